#!/usr/bin/env bash
# Soak: a long open-loop run against the simulator (a separate process),
# sampling the client's RSS every 10 s (see docs/performance.md, item 7).
#   scripts/soak.sh                 # 10 minutes at 500 req/s
#   SOAK_S=120 RATE=200 scripts/soak.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
SB="$PWD/target/release/servebench"
W="${SOAK_DIR:-/tmp/servebench-soak}"
SOAK_S="${SOAK_S:-600}"
RATE="${RATE:-500}"
N=$((SOAK_S * RATE))
rm -rf "$W" && mkdir -p "$W"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
SERVEBENCH_SIM="time_scale=0.2" "$SB" sim --port "$PORT" 2>"$W/sim.log" &
SIM=$!
trap 'kill -KILL $SIM 2>/dev/null; true' EXIT
for _ in $(seq 100); do (echo >"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
echo "soak: $N requests at $RATE req/s (~$SOAK_S s), 64-token prompts, 16-token outputs"
# /usr/bin/time records the client's peak RSS over the whole run (the
# writing pass after the load is shorter than the sampling period).
/usr/bin/time -f "%M" -o "$W/max_rss_kb" \
  "$SB" serving --url "http://127.0.0.1:$PORT" --random-input-len 64 --random-output-len 16 \
  --request-rate "$RATE" --max-concurrency 2000 --num-prompts "$N" --epochs 1 --warmup 0 -q --noplot --output-dir "$W/out" &
TIMER=$!
for _ in $(seq 50); do CLIENT=$(pgrep -P "$TIMER" | head -1); [ -n "$CLIENT" ] && break; sleep 0.1; done
echo "t_s,client_rss_mib,records" >"$W/rss.csv"
t=0
while kill -0 "$TIMER" 2>/dev/null; do
  rss=$(awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$CLIENT/status" 2>/dev/null || echo "")
  recs=$(grep -c '^{"point"' "$W/out/serving/new/records.jsonl" 2>/dev/null || echo 0)
  [ -n "$rss" ] && echo "$t,$rss,$recs" >>"$W/rss.csv"
  sleep 10
  t=$((t + 10))
done
wait "$TIMER" && echo "client exit 0" || echo "client exit $?"
python3 - "$W" <<'PY'
import csv, json, sys
w = sys.argv[1]
rows = [r for r in csv.DictReader(open(f"{w}/rss.csv"))]
for r in rows:
    print(f"  t={r['t_s']:>4} s  RSS {float(r['client_rss_mib']):7.1f} MiB  records {r['records']}")
run = json.load(open(f"{w}/out/serving/new/run.json"))["run"]
s = run["points"][0]["summary"]
print(f"  sent {s['sent']}, completed {s['completed']}, failed {s['failed']}, "
      f"achieved send rate {s.get('achieved_send_rate'):.1f} req/s")
warm = next((r for r in rows if int(r["t_s"]) >= 60), rows[0])
# The load phase: samples before the last request completed (after it, the
# run's outputs are written: run.json, CSV, HTML).
load = [r for r in rows if int(r["records"]) < int(rows[-1]["records"])] or rows
end = load[-1]
print(f"  highest RSS sample: {max(float(r['client_rss_mib']) for r in rows):.1f} MiB")
peak = int(open(f"{w}/max_rss_kb").read().split()[-1]) / 1024
print(f"  peak RSS of the whole run (load, then writing the outputs): {peak:.1f} MiB")
a, b = float(warm["client_rss_mib"]), float(end["client_rss_mib"])
ra, rb = int(warm["records"]), int(end["records"])
per = (b - a) * 2**20 / max(rb - ra, 1)
print(f"  RSS after warm-up (t={warm['t_s']} s) {a:.1f} MiB -> end of load (t={end['t_s']} s) {b:.1f} MiB: {100 * (b / a - 1):+.1f} %")
print(f"  growth per record kept in memory: {per:.0f} bytes ({rb - ra} records)")
PY
