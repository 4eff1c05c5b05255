#!/usr/bin/env bash
# The whole load test of `LeNet.Train serve` in one command (results: benchmarks/serve.md):
#   benchmarks/loadtest/run.sh [MNIST_DIR] [MODEL.safetensors]
# builds the server and the load test (Release), trains a model with --recipe fast when none is given, then
#   1. LoadTest on 28×28 PNGs, RUNS times (default 3), each with a fresh server;
#   2. LoadTest on PNGs of 28, 56, 140 and 280 px (the drawing page's canvas is 280), once, 2 rounds;
#   3. wrk (when installed) against a fresh server: 16 connections, 10 s, RUNS times, its memory before and after.
# Environment: RUNS (3), REQUESTS (20000), CLIENTS (16), WRK_SECONDS (10).
set -euo pipefail
cd "$(dirname "$0")/../.."
mnist=${1:-${LENET_DATA:-../shared/mnist}}
model=${2:-}
runs=${RUNS:-3}
requests=${REQUESTS:-20000}
clients=${CLIENTS:-16}
work=$(mktemp -d)
server_pid=
cleanup() {
  if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then kill "$server_pid"; wait "$server_pid" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "== $(lscpu | grep 'Model name' | sed 's/  */ /g'), $(nproc) cores, $(date -u '+%Y-%m-%d %H:%M UTC'), load: $(uptime | sed 's/.*load average: //')"
dotnet build LeNet.Train -c Release -nologo -v quiet
dotnet build benchmarks/loadtest -c Release -nologo -v quiet
server=LeNet.Train/bin/Release/net10.0/LeNet.Train.dll
loadtest=benchmarks/loadtest/bin/Release/net10.0/LoadTest.dll
if [[ -z $model ]]; then
  dotnet "$server" --data "$mnist" --recipe fast --output "$work/model" --no-pictures --overwrite | tail -1
  model=$work/model/model.safetensors
fi

for run in $(seq "$runs"); do
  echo "== LoadTest, 28×28 PNG, run $run of $runs"
  dotnet "$loadtest" --model "$model" --mnist "$mnist" --server "$server" --clients "$clients" --requests "$requests"
done
echo "== LoadTest, PNGs of 28, 56, 140 and 280 px"
dotnet "$loadtest" --model "$model" --mnist "$mnist" --server "$server" --clients "$clients" --requests "$requests" \
  --sizes 28,56,140,280 --rounds 2

if ! command -v wrk >/dev/null; then echo "== wrk is not installed (apt-get install -y wrk): skipped"; exit 0; fi
echo "== wrk, 28×28 PNG, $clients connections, 2 threads"
dotnet "$loadtest" --export "$work/png" --mnist "$mnist" --digits 1000 >/dev/null
dotnet "$server" serve --model "$model" --port 0 >"$work/serve.log" &
server_pid=$!
for _ in $(seq 600); do grep -q ' at http' "$work/serve.log" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/.* at \(http:[^;]*\);.*/\1/p' "$work/serve.log" | head -1)
[[ -n $url ]] || { echo "serve did not start: $(cat "$work/serve.log")"; exit 1; }
rss() { awk '/VmRSS/ {printf "%.1f MiB", $2 / 1024}' "/proc/$server_pid/status"; }
echo "server $url (pid $server_pid), VmRSS $(rss) at start"
wrk -t1 -c"$clients" -d3s -s benchmarks/loadtest/post.lua "${url}api/predict" -- "$work/png" 1000 >/dev/null
echo "VmRSS $(rss) after a 3 s warm-up"
for run in $(seq "$runs"); do
  echo "-- wrk run $run of $runs"
  wrk -t2 -c"$clients" -d"${WRK_SECONDS:-10}s" --latency -s benchmarks/loadtest/post.lua "${url}api/predict" -- \
    "$work/png" 1000
  echo "VmRSS $(rss) after run $run"
done
sleep 10
echo "VmRSS $(rss) after a 10 s pause"
