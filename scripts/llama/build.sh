#!/usr/bin/env bash
# Build (once, cached) llama.cpp's llama-server and a tiny random-weight model
# with GPT-2's BPE vocabulary, plus a matching HuggingFace tokenizer.json, so
# that servebench can be run against a real llama-server on a CPU-only box.
#
# Usage: scripts/llama/build.sh            # build if needed, print the paths
#        JOBS=2 scripts/llama/build.sh     # parallel compile jobs (default 2)
#        FORCE=1 scripts/llama/build.sh    # rebuild everything
#
# Cache: ${SERVEBENCH_LLAMA_CACHE:-$HOME/.cache/servebench/llama}
#   bin/llama-server   statically linked server (CPU only, no AMX)
#   tiny.gguf          2-layer llama, n_embd 64, 4 heads, ctx 8192, GPT-2 vocab
#   tokenizer.json     HF tokenizers ByteLevel BPE file for that vocabulary
#   stamp              recipe version; when it matches, this script exits fast
#
# Source: the PyPI sdist of llama-cpp-python (vendors llama.cpp), fetched with
# pip; cmake from the system or from pip into a venv in the cache.
# Only PyPI is needed (no GitHub, no Hugging Face).
set -euo pipefail

LCPP_VERSION="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
# Bump when the recipe (flags, model, tokenizer) changes: the stamp must match.
RECIPE=3
JOBS="${JOBS:-2}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${SERVEBENCH_LLAMA_CACHE:-$HOME/.cache/servebench/llama}"
PY="${PYTHON:-python3}"

log() { echo "[llama/build] $*" >&2; }

# --- CPU features -> ggml flags (GGML_NATIVE=OFF, so nothing is guessed) -----
cpu_flags="$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || true)"
has() { [[ " ${cpu_flags#*:} " == *" $1 "* ]] && echo ON || echo OFF; }
AVX=$(has avx); AVX2=$(has avx2); FMA=$(has fma); F16C=$(has f16c); BMI2=$(has bmi2)
AVX512=$(has avx512f)
AVX512_VBMI=$(has avx512_vbmi); AVX512_VNNI=$(has avx512_vnni); AVX512_BF16=$(has avx512_bf16)
if [ "$AVX512" = OFF ]; then AVX512_VBMI=OFF; AVX512_VNNI=OFF; AVX512_BF16=OFF; fi
CMAKE_FLAGS=(
  -DCMAKE_BUILD_TYPE=Release
  -DBUILD_SHARED_LIBS=OFF
  -DGGML_NATIVE=OFF
  -DGGML_CPU=ON
  -DGGML_BACKEND_DL=OFF -DGGML_CPU_ALL_VARIANTS=OFF
  -DGGML_AVX="$AVX" -DGGML_AVX2="$AVX2" -DGGML_FMA="$FMA" -DGGML_F16C="$F16C" -DGGML_BMI2="$BMI2"
  -DGGML_AVX_VNNI=OFF
  -DGGML_AVX512="$AVX512" -DGGML_AVX512_VBMI="$AVX512_VBMI"
  -DGGML_AVX512_VNNI="$AVX512_VNNI" -DGGML_AVX512_BF16="$AVX512_BF16"
  # AMX paths crashed with batched requests on some x86 machines: never build them.
  -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF
  -DGGML_CUDA=OFF -DGGML_METAL=OFF -DGGML_VULKAN=OFF -DGGML_OPENCL=OFF -DGGML_SYCL=OFF
  -DGGML_HIP=OFF -DGGML_RPC=OFF -DGGML_BLAS=OFF
  -DGGML_OPENMP_FETCH=OFF -DGGML_CCACHE=OFF
  -DLLAMA_OPENSSL=OFF
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=ON
  -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_APP=OFF
  # The web UI would be downloaded from Hugging Face or built with npm: neither.
  -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF
  -DLLAMA_BUILD_COMMIT=vendored-llama-cpp-python-"$LCPP_VERSION"
)
# (LLAMA_CURL no longer exists in this llama.cpp: it is deprecated and ignored,
# so it is not passed; LLAMA_OPENSSL=OFF keeps the build free of libssl.)

SERVER_STAMP="llama-cpp-python=$LCPP_VERSION recipe=$RECIPE flags=${CMAKE_FLAGS[*]}"
model_hash="$(cat "$HERE/make_model.py" "$HERE/make_tokenizer.py" | sha256sum | cut -c1-16)"
STAMP="$SERVER_STAMP model=$model_hash"

print_paths() {
  echo "llama-server: $CACHE/bin/llama-server"
  echo "model:        $CACHE/tiny.gguf"
  echo "tokenizer:    $CACHE/tokenizer.json"
  echo "stamp:        $CACHE/stamp"
}

if [ -z "${FORCE:-}" ] && [ -x "$CACHE/bin/llama-server" ] && [ -s "$CACHE/tiny.gguf" ] \
   && [ -s "$CACHE/tokenizer.json" ] && [ -f "$CACHE/stamp" ] \
   && [ "$(cat "$CACHE/stamp")" = "$STAMP" ]; then
  print_paths
  exit 0
fi

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
if ! flock -w 3600 9; then log "could not lock $CACHE/.lock"; exit 1; fi
T0=$(date +%s)

# --- source ------------------------------------------------------------------
SRC_PARENT="$CACHE/src"
SRC="$SRC_PARENT/llama_cpp_python-$LCPP_VERSION"
LLAMA="$SRC/vendor/llama.cpp"
if [ ! -f "$LLAMA/CMakeLists.txt" ]; then
  mkdir -p "$SRC_PARENT"
  tarball="$SRC_PARENT/llama_cpp_python-$LCPP_VERSION.tar.gz"
  if [ ! -s "$tarball" ]; then
    log "downloading llama-cpp-python==$LCPP_VERSION sdist from PyPI"
    # --no-binary for this package only: ':all:' would also force its build
    # backend's own dependencies (cmake, ninja) to be compiled from source
    # while pip prepares the metadata.
    "$PY" -m pip download --quiet --no-deps --no-binary llama-cpp-python \
      "llama-cpp-python==$LCPP_VERSION" -d "$SRC_PARENT"
  fi
  log "extracting $tarball"
  rm -rf "$SRC.tmp" && mkdir -p "$SRC.tmp"
  tar -xzf "$tarball" -C "$SRC.tmp"
  rm -rf "$SRC" && mv "$SRC.tmp/llama_cpp_python-$LCPP_VERSION" "$SRC" && rm -rf "$SRC.tmp"
  rm -f "$tarball"   # 76 MB; the extracted tree is all that is used
fi
[ -f "$LLAMA/models/ggml-vocab-gpt-2.gguf" ] || { log "ggml-vocab-gpt-2.gguf missing from the sdist"; exit 1; }

# --- python venv: cmake (if no system one), numpy, gguf, tokenizers ---------
VENV="$CACHE/venv"
if [ ! -x "$VENV/bin/python" ]; then
  log "creating venv $VENV"
  "$PY" -m venv "$VENV"
fi
need=()
"$VENV/bin/python" -c 'import numpy, yaml, tqdm' 2>/dev/null || need+=(numpy pyyaml tqdm)
"$VENV/bin/python" -c 'import tokenizers' 2>/dev/null || need+=(tokenizers)
CMAKE="$(command -v cmake || true)"
if [ -z "$CMAKE" ]; then
  [ -x "$VENV/bin/cmake" ] || need+=(cmake)
  CMAKE="$VENV/bin/cmake"
fi
if [ ${#need[@]} -gt 0 ]; then
  log "pip install ${need[*]}"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${need[@]}"
fi
# The vendored gguf-py (matches this llama.cpp) is used straight from the source.
export PYTHONPATH="$LLAMA/gguf-py${PYTHONPATH:+:$PYTHONPATH}"

# --- llama-server ------------------------------------------------------------
BUILD="$CACHE/build"
if [ -n "${FORCE:-}" ] || [ ! -x "$CACHE/bin/llama-server" ] || [ ! -f "$CACHE/server.stamp" ] \
   || [ "$(cat "$CACHE/server.stamp")" != "$SERVER_STAMP" ]; then
  log "configuring ($("$CMAKE" --version | head -1); AVX2=$AVX2 AVX512=$AVX512 AMX=OFF)"
  TB=$(date +%s)
  nice -n 19 "$CMAKE" -S "$LLAMA" -B "$BUILD" "${CMAKE_FLAGS[@]}" >"$CACHE/cmake-configure.log" 2>&1 \
    || { tail -40 "$CACHE/cmake-configure.log" >&2; exit 1; }
  log "building llama-server with -j$JOBS (log: $CACHE/cmake-build.log)"
  nice -n 19 "$CMAKE" --build "$BUILD" --target llama-server -j"$JOBS" >"$CACHE/cmake-build.log" 2>&1 \
    || { tail -40 "$CACHE/cmake-build.log" >&2; exit 1; }
  mkdir -p "$CACHE/bin"
  cp -f "$BUILD/bin/llama-server" "$CACHE/bin/llama-server.tmp"
  strip "$CACHE/bin/llama-server.tmp" 2>/dev/null || true
  mv -f "$CACHE/bin/llama-server.tmp" "$CACHE/bin/llama-server"
  echo "$SERVER_STAMP" >"$CACHE/server.stamp"
  log "llama-server built in $(( $(date +%s) - TB )) s"
  # The build tree is ~100s of MB of objects; keep it only when asked.
  [ -n "${KEEP_BUILD:-}" ] || rm -rf "$BUILD"
fi
# The CPU variant line of the configure log lists the ISA flags compiled in.
if grep -i "CPU backend variant" "$CACHE/cmake-configure.log" 2>/dev/null | grep -qi amx; then
  log "error: AMX got enabled (see $CACHE/cmake-configure.log)"; exit 1
fi

# --- model + tokenizer -------------------------------------------------------
log "writing tiny.gguf and tokenizer.json"
"$VENV/bin/python" "$HERE/make_model.py" --vocab "$LLAMA/models/ggml-vocab-gpt-2.gguf" \
  --out "$CACHE/tiny.gguf.tmp"
mv -f "$CACHE/tiny.gguf.tmp" "$CACHE/tiny.gguf"
"$VENV/bin/python" "$HERE/make_tokenizer.py" --vocab "$LLAMA/models/ggml-vocab-gpt-2.gguf" \
  --out "$CACHE/tokenizer.json.tmp" --check "$LLAMA/models/ggml-vocab-gpt-2.gguf.inp" \
  "$LLAMA/models/ggml-vocab-gpt-2.gguf.out"
mv -f "$CACHE/tokenizer.json.tmp" "$CACHE/tokenizer.json"

# --- check the pair against the server's own tokenizer ----------------------
if [ -z "${SKIP_SERVER_CHECK:-}" ]; then
  log "checking tokenizer.json against llama-server /tokenize"
  port=$("$VENV/bin/python" -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
  SERVEBENCH_LLAMA_CACHE="$CACHE" SERVE_NO_BUILD=1 SERVE_LOG="$CACHE/check-server.log" \
    "$HERE/serve.sh" "$port" >"$CACHE/check-serve.out"
  pid=$(tail -1 "$CACHE/check-serve.out")
  rc=0
  "$VENV/bin/python" "$HERE/make_tokenizer.py" --tokenizer "$CACHE/tokenizer.json" \
    --server "http://127.0.0.1:$port" || rc=$?
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  [ "$rc" -eq 0 ] || { log "tokenizer check against the server failed"; exit 1; }
fi

echo "$STAMP" >"$CACHE/stamp"
log "done in $(( $(date +%s) - T0 )) s; cache size $(du -sh "$CACHE" | cut -f1)"
print_paths
