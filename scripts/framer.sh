#!/usr/bin/env bash
# The stream framers on one long event fed in small reads (see
# docs/performance.md, "Framer without slow paths"): ns per byte for a 64 KB
# and a 1 MB event fed 1 byte at a time, and 1 MB fed 1 KB at a time. A
# linear framer shows the same ns/byte for the 64 KB and the 1 MB event.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release -q --example framer_speed
