#!/usr/bin/env bash
# What the live page costs a training run: the seed recipe for EPOCHS epochs, alternating a run without --serve, one
# whose event stream is read and whose drawing is predicted ten times a second (as the page does while someone draws),
# and the same with the page open in headless chromium. Prints each run's training seconds and the median ratios.
# Usage: [DRAW=0] benchmarks/serve/overhead.sh MNIST_DIR [ROUNDS=3] [EPOCHS=5]   (DRAW=0: nobody draws)
set -euo pipefail
cd "$(dirname "$0")/../.."
data=${1:?MNIST folder}; pairs=${2:-3}; epochs=${3:-5}
dotnet build LeNet.Train -c Release -v q -nologo >/dev/null
dll=LeNet.Train/bin/Release/net10.0/LeNet.Train.dll
work=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
python3 - "$work/digit.pgm" "$data" <<'EOF'
import gzip, sys
images = gzip.open(sys.argv[2] + "/t10k-images-idx3-ubyte.gz").read()[16:16 + 784]
open(sys.argv[1], "wb").write(b"P5 28 28 255\n" + images)
EOF
seconds() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['trainingSeconds'])" "$1"; }
# One run: none (no --serve), api (--serve; the event stream read by curl, the drawing predicted 10 times a second:
# the server's own cost) or page (the same with the page open in headless chromium on the same cores).
run() {
  local mode=$1 port=$2
  if [ "$mode" = none ]; then
    dotnet "$dll" --data "$data" --epochs "$epochs" --output "$work/run" --overwrite --no-pictures --quiet \
      --metrics "$work/run.json"
    seconds "$work/run.json"; return
  fi
  dotnet "$dll" --data "$data" --epochs "$epochs" --output "$work/run" --overwrite --no-pictures \
    --metrics "$work/run.json" --serve "$port" >"$work/served.log" 2>&1 &
  local trainer=$! watcher drawer
  until grep -q "Watch it learn" "$work/served.log"; do sleep 0.1; done
  if [ "$mode" = page ]; then
    chromium --headless --no-sandbox --disable-gpu --user-data-dir="$work/profile" \
      --remote-debugging-port=0 "http://127.0.0.1:$port/" >/dev/null 2>&1 &
  else
    curl -s -N "http://127.0.0.1:$port/api/events" >/dev/null &
  fi
  watcher=$!
  # One client on one kept-alive connection, as a browser sends: a curl started ten times a second would itself cost
  # the run more than the server does.
  [ "${DRAW:-1}" = 1 ] || { python3 -c "import time; time.sleep(1e6)" & drawer=$!; }
  [ "${DRAW:-1}" = 1 ] && python3 - "$port" "$work/digit.pgm" <<'EOF' &
import http.client, sys, time
connection = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
body = open(sys.argv[2], "rb").read()
while True:
    connection.request("POST", "/api/predict?seen=1", body, {"Content-Type": "image/x-portable-graymap"})
    connection.getresponse().read()
    time.sleep(0.1)
EOF
  [ "${DRAW:-1}" = 1 ] && drawer=$!
  until grep -q "stays open" "$work/served.log"; do sleep 0.2; done
  kill "$drawer" "$watcher"; kill -TERM "$trainer"; wait "$trainer" || true
  seconds "$work/run.json"
}
none=(); api=(); page=()
for i in $(seq "$pairs"); do
  none+=("$(run none 0)"); api+=("$(run api $((5300 + i)))"); page+=("$(run page $((5400 + i)))")
  echo "round $i: no page ${none[-1]} s, API and event stream ${api[-1]} s, page in chromium ${page[-1]} s"
done
python3 - "${none[*]}" "${api[*]}" "${page[*]}" <<'EOF'
import statistics, sys
none, api, page = ([float(x) for x in a.split()] for a in sys.argv[1:4])
for name, runs in (("API and event stream", api), ("page in chromium", page)):
    ratios = [r / n for n, r in zip(none, runs)]
    print(f"{name}: median {statistics.median(runs):.2f} s against {statistics.median(none):.2f} s; ratio per round "
          f"{', '.join(f'{r:.3f}' for r in ratios)}; median {statistics.median(ratios):.3f}")
EOF
