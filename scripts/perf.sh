#!/usr/bin/env bash
# Performance of the servebench client on this machine (see docs/performance.md).
# Release build; the simulator always runs as a separate process.
#   scripts/perf.sh            # everything (~3 min on 2 cores)
#   SKIP_SELFTEST=1 scripts/perf.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
SB="$PWD/target/release/servebench"
W="${PERF_DIR:-/tmp/servebench-perf}"
rm -rf "$W" && mkdir -p "$W"
ulimit -n "$(ulimit -Hn)"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
SIM_PID=""
start_sim() { # $1 = SERVEBENCH_SIM settings
  PORT=$(free_port)
  SERVEBENCH_SIM="$1" "$SB" sim --port "$PORT" 2>"$W/sim.log" &
  SIM_PID=$!
  for _ in $(seq 100); do (echo >"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && return; sleep 0.1; done
  echo "sim did not start"; cat "$W/sim.log"; exit 1
}
stop_sim() {
  echo "  sim peak RSS: $(awk '/VmHWM/ {printf "%.0f MiB", $2/1024}' /proc/$SIM_PID/status)"
  kill -KILL "$SIM_PID"; wait "$SIM_PID" 2>/dev/null || true; SIM_PID=""
}
trap '[ -n "$SIM_PID" ] && kill -KILL $SIM_PID 2>/dev/null; true' EXIT
timed() { # $1 = label; rest = command. Prints wall, CPU and peak RSS.
  local label=$1; shift
  /usr/bin/time -f "%e %U %S %M" -o "$W/time.txt" "$@"
  read -r wall usr sys rss <"$W/time.txt"
  echo "  $label: wall ${wall} s, cpu $(echo "$usr + $sys" | bc) s, peak RSS $((rss / 1024)) MiB"
}
summary() { # $1 = run dir: failures, TTFT, TPOT, client CPU of each point
  python3 - "$1/run.json" <<'EOF'
import json, sys
run = json.load(open(sys.argv[1]))["run"]
for p in run["points"]:
    s, c = p["summary"], p.get("client") or {}
    fails = sum(s.get("failures", {}).values())
    pct = lambda m, q: next((v for k, v in (s.get(m) or {}).get("percentiles", []) if k == q), float("nan"))
    print(f"  {p['label']}: completed {s['completed']}, failed {fails}, "
          f"TTFT p50 {pct('ttft_ms', 50):.1f} ms, TPOT p50 {pct('tpot_ms', 50):.3f} ms, "
          f"server {json.dumps(s.get('server'))}, "
          f"client cpu {c.get('cpu_s', 0):.2f} s / wall {c.get('wall_s', 0):.2f} s, chunks {c.get('chunks')}")
EOF
}

if [ -z "${SKIP_SELFTEST:-}" ]; then
  echo "== 1. servebench selftest"
  timed selftest "$SB" selftest
fi

echo "== 2. 10,000 concurrent streams, one client process, separate no-delay sim"
start_sim "no_delay=true,max_batch=10000,kv_cache_tokens=4000000"
timed "client" "$SB" static --url "http://127.0.0.1:$PORT" --parallel-num 10000 \
  --prompt-tokens 16 --output-tokens 64 --epochs 1 --warmup 0 -q --noplot \
  --output-dir "$W/c10k"
stop_sim
summary "$W/c10k/static/new"

echo "== 3. long contexts: 128K-token prompts, 16K-token outputs, 4 streams"
LONG="time_scale=0.1,max_model_len=160000,kv_cache_tokens=600000"
start_sim "$LONG"
timed "client" "$SB" static --url "http://127.0.0.1:$PORT" --parallel-num 4 \
  --prompt-tokens 131072 --output-tokens 16384 --epochs 1 --warmup 0 --return-latency -q \
  --noplot --output-dir "$W/long"
stop_sim
summary "$W/long/static/new"
python3 - "$W/long/static/new/records.jsonl" <<'EOF'
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r.get("ttft_ms") and r.get("server"):
        s = r["server"]
        print(f"  req {r['id']}: body {r['input_tokens']} tokens; client TTFT {r['ttft_ms']:.2f} ms vs server "
              f"{s.get('ttft_server_ms')} ms; client TPOT {(r['e2el_ms'] - r['ttft_ms']) / (r['output_tokens'] - 1):.4f} ms "
              f"vs server avg_decode {s.get('avg_decode_latency')} ms")
EOF

echo "== 4. workload preparation"
timed "gen-dataset 10,000 x ~1,800 tokens" "$SB" gen-dataset --dataset "$W/gen.json" \
  --num-requests 10000 --avg-input 1800 --std-input 300 --min-input 1000 --max-input 2600 \
  --avg-output 200 --std-output 50 --min-output 50 --max-output 400
ls -la "$W/gen.json" | awk '{printf "  gen.json: %.0f MB\n", $5/1e6}'
python3 - "$W/sharegpt.json" <<'EOF'
# ~600 MB of ShareGPT-format conversations (random words), not committed.
import json, random, sys
random.seed(1)
words = [w for w in open("/usr/share/dict/words").read().split() if w.isalpha()][:20000] \
    if __import__("os").path.exists("/usr/share/dict/words") else [f"w{i}" for i in range(5000)]
def text(n): return " ".join(random.choices(words, k=n))
with open(sys.argv[1], "w") as f:
    f.write("[")
    i = 0
    while f.tell() < 600_000_000:
        turns = [{"from": "human" if k % 2 == 0 else "gpt", "value": text(random.randint(50, 800))}
                 for k in range(random.choice([2, 2, 4, 6]))]
        f.write(("," if i else "") + json.dumps({"id": f"c{i}", "conversations": turns}))
        i += 1
    f.write("]")
    print(f"  sharegpt.json: {f.tell() / 1e6:.0f} MB, {i} conversations")
EOF
start_sim "no_delay=true"
timed "serving --dataset sharegpt.json (600 MB) --num-prompts 1000 --request-rate inf" \
  "$SB" serving --url "http://127.0.0.1:$PORT" --dataset "$W/sharegpt.json" \
  --dataset-type sharegpt --num-prompts 1000 --request-rate inf -q --noplot --output-dir "$W/sg"
stop_sim
summary "$W/sg/serving/new"
rm -f "$W/sharegpt.json"
