#!/usr/bin/env bash
# What the live page costs a training run, measured inside one run: `train --serve` for EPOCHS epochs in blocks of
# three, the page open in a tab of headless chromium during every other block (opened at the block's start, closed at
# the next block's). An open block's first epoch loads the page (chromium starts a renderer: a one-off cost, printed);
# its other two epochs are compared with the closed blocks on both sides. One process throughout: comparing separate
# runs mixes in each process's own speed (a few per cent either way on this machine). The browser runs on about:blank
# from before the run, as a user's browser would. MODE=api reads the event stream with curl instead (the server's part).
# Usage: [MODE=page|api] benchmarks/serve/page-cost.sh MNIST_DIR [EPOCHS=39]
set -euo pipefail
cd "$(dirname "$0")/../.."
data=${1:?MNIST folder}; epochs=${2:-39}; mode=${MODE:-page}; port=5901; cdp=9555
dotnet build LeNet.Train -c Release -v q -nologo >/dev/null
dll=LeNet.Train/bin/Release/net10.0/LeNet.Train.dll
work=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null; sleep 0.5; rm -rf "$work"' EXIT
chromium --headless --no-sandbox --disable-gpu --user-data-dir="$work/profile" --remote-debugging-port=$cdp \
  about:blank >/dev/null 2>&1 &
until curl -sf "http://127.0.0.1:$cdp/json/version" >/dev/null; do sleep 0.2; done
sleep 4
dotnet "$dll" --data "$data" --epochs "$epochs" --output "$work/run" --overwrite --no-pictures \
  --metrics "$work/metrics.json" --serve $port >"$work/log" 2>&1 &
trainer=$!
open=""
start_page() {
  if [ "$mode" = page ]; then
    open=$(curl -sf -X PUT "http://127.0.0.1:$cdp/json/new?http://127.0.0.1:$port/" |
      python3 -c "import json,sys; print(json.load(sys.stdin)['id'])")
  else
    curl -s -N "http://127.0.0.1:$port/api/events" >/dev/null & open=$!
  fi
}
stop_page() {
  [ -n "$open" ] || return 0
  if [ "$mode" = page ]; then curl -sf "http://127.0.0.1:$cdp/json/close/$open" >/dev/null; else kill "$open"; fi
  open=""
}
for k in $(seq 1 $((epochs - 1))); do
  until grep -q "Epoch \[$k/$epochs\] took" "$work/log"; do sleep 0.05; done
  # Epoch e = k + 1 begins: blocks of three epochs, the page open in the odd ones (0-based).
  e=$((k + 1))
  if [ $(((e - 1) % 3)) = 0 ]; then if [ $(((e - 1) / 3 % 2)) = 1 ]; then start_page; else stop_page; fi; fi
done
until grep -q "stays open" "$work/log"; do sleep 0.2; done
kill -TERM "$trainer"; wait "$trainer" || true
python3 - "$work/metrics.json" "$mode" <<'PY'
import json, statistics, sys
e = [x['seconds'] for x in json.load(open(sys.argv[1]))['epochs']]
ratios, loads = [], []
for b in range(1, len(e) // 3, 2):
    if 3 * b + 6 > len(e): break
    closed = [x for i, x in enumerate(e[3 * b - 3:3 * b], 3 * b - 3) if i > 0] + e[3 * b + 3:3 * b + 6]
    ratios.append(statistics.mean(e[3 * b + 1:3 * b + 3]) / statistics.mean(closed))
    loads.append(e[3 * b] - statistics.mean(closed))
print("epoch seconds:", " ".join(f"{x:.3f}" for x in e))
print(f"{sys.argv[2]} open / closed, per block: {' '.join(f'{r:.3f}' for r in ratios)}; median {statistics.median(ratios):.3f}, "
      f"mean {statistics.mean(ratios):.3f}; the epoch that opens it: +{statistics.median(loads):.2f} s (median)")
PY
