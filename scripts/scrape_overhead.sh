#!/usr/bin/env bash
# The client's CPU with and without reading the server's /metrics (see
# docs/performance.md, "Scrape overhead"). Release build; the simulator runs
# as a separate process (no_delay, so the client's own cost dominates).
# Each setting runs REPEATS times, interleaved: off, every 1 s, every 0.1 s.
#   scripts/scrape_overhead.sh            # ~2 min on 2 cores
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
SB="$PWD/target/release/servebench"
W="${PERF_DIR:-/tmp/servebench-scrape}"
REPEATS="${REPEATS:-3}"
rm -rf "$W" && mkdir -p "$W"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
SERVEBENCH_SIM="no_delay=true" "$SB" sim --port "$PORT" 2>"$W/sim.log" &
SIM_PID=$!
trap 'kill -KILL $SIM_PID 2>/dev/null; true' EXIT
for _ in $(seq 100); do (echo >"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
curl -s "http://127.0.0.1:$PORT/metrics" | wc -c | awk '{printf "metrics page: %d bytes\n", $1}'
run() { # $1 = label, rest = extra flags; prints "label cpu_s wall_s scrapes"
  local label=$1; shift
  /usr/bin/time -f "%e %U %S" -o "$W/time.txt" "$SB" serving --url "http://127.0.0.1:$PORT" \
    --num-prompts 2000 --request-rate 200 --random-input-len 32 --random-output-len 64 \
    --epochs 1 --warmup 1 -q --noplot --output-dir "$W/$label" "$@" >/dev/null
  read -r wall usr sys <"$W/time.txt"
  scrapes=$(python3 -c "
import json,sys
run=json.load(open('$W/$label/serving/new/run.json'))['run']
print(sum(len(e['series']) for p in run['points'] if p.get('server') for e in p['server']['epochs']))")
  echo "$label $(echo "$usr + $sys" | bc) $wall $scrapes"
}
for i in $(seq "$REPEATS"); do
  run off --no-server-metrics
  run every1s --metrics-interval 1
  run every100ms --metrics-interval 0.1
done | tee "$W/results.txt"
python3 - "$W/results.txt" <<'PY'
import sys, statistics as st
rows = [l.split() for l in open(sys.argv[1])]
by = {}
for label, cpu, wall, scrapes in rows:
    by.setdefault(label, []).append((float(cpu), float(wall), int(scrapes)))
base = st.mean(c for c, _, _ in by["off"])
print(f"client CPU, mean of {len(by['off'])} runs of 2000 requests x 64 tokens at 200 req/s:")
for label in ["off", "every1s", "every100ms"]:
    cpu = st.mean(c for c, _, _ in by[label]); n = st.mean(s for _, _, s in by[label])
    per = f", {1000 * (cpu - base) / n:.2f} ms CPU per scrape" if n else ""
    print(f"  {label:11s} {cpu:.3f} s ({100 * (cpu - base) / base:+.1f} %), {n:.0f} scrapes{per}")
PY
