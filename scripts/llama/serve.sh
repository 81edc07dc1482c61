#!/usr/bin/env bash
# Start the cached llama-server with the tiny model on 127.0.0.1:PORT, wait
# until GET /health answers 200, and print the server's PID (last line of
# stdout; nothing else goes to stdout). The server runs detached; stop it with
# `kill PID`.
#
# Usage: scripts/llama/serve.sh PORT [extra llama-server args...]
#   e.g. pid=$(scripts/llama/serve.sh 18080) && ... && kill "$pid"
#        scripts/llama/serve.sh 18080 --log-verbose      # extra args go last (they win)
#
# Served model name `tiny`, 8 slots, continuous batching, /metrics on,
# context LLAMA_CTX (default 32768 = 4096 tokens per slot), cpp-httplib's
# default keep-alive (5 s idle timeout, 100 requests per connection).
#
# Environment:
#   SERVEBENCH_LLAMA_CACHE  cache dir (default $HOME/.cache/servebench/llama)
#   SERVE_LOG               server log file (default $CACHE/server-PORT.log)
#   SERVE_TIMEOUT           seconds to wait for /health (default 60)
#   LLAMA_CTX, LLAMA_SLOTS, LLAMA_THREADS   context size, slots (8), CPU threads (nproc)
#   SERVE_NO_BUILD=1        do not run build.sh when the cache is incomplete
set -euo pipefail

if [ $# -lt 1 ] || ! [[ "$1" =~ ^[0-9]+$ ]]; then
  echo "usage: $0 PORT [extra llama-server args...]" >&2
  exit 2
fi
PORT="$1"; shift
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${SERVEBENCH_LLAMA_CACHE:-$HOME/.cache/servebench/llama}"
BIN="$CACHE/bin/llama-server"
MODEL="$CACHE/tiny.gguf"
LOG="${SERVE_LOG:-$CACHE/server-$PORT.log}"
TIMEOUT="${SERVE_TIMEOUT:-60}"

if [ -z "${SERVE_NO_BUILD:-}" ]; then
  "$HERE/build.sh" >&2      # exits at once when the cache is complete
fi
for f in "$BIN" "$MODEL"; do
  [ -e "$f" ] || { echo "serve.sh: $f missing; run $HERE/build.sh" >&2; exit 1; }
done

# Refuse a port that already has a listener (the health check would pass on it).
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
  echo "serve.sh: 127.0.0.1:$PORT is already in use" >&2
  exit 1
fi

mkdir -p "$(dirname "$LOG")"
setsid "$BIN" \
  --host 127.0.0.1 --port "$PORT" \
  --model "$MODEL" --alias tiny \
  --parallel "${LLAMA_SLOTS:-8}" --cont-batching \
  --ctx-size "${LLAMA_CTX:-32768}" \
  --threads "${LLAMA_THREADS:-$(nproc)}" \
  --metrics --no-ui \
  "$@" >"$LOG" 2>&1 </dev/null &
PID=$!

deadline=$(( $(date +%s) + TIMEOUT ))
while :; do
  if ! kill -0 "$PID" 2>/dev/null; then
    echo "serve.sh: llama-server exited during start-up; last lines of $LOG:" >&2
    tail -n 30 "$LOG" >&2
    exit 1
  fi
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$PORT/health" || true)
  [ "$code" = 200 ] && break
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "serve.sh: /health not OK after ${TIMEOUT}s (last status $code); stopping pid $PID; log $LOG" >&2
    kill "$PID" 2>/dev/null || true
    tail -n 30 "$LOG" >&2
    exit 1
  fi
  sleep 0.2
done
echo "serve.sh: llama-server ready on http://127.0.0.1:$PORT (model tiny, log $LOG), pid:" >&2
echo "$PID"
