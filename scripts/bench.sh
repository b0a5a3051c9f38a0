#!/usr/bin/env bash
# Prints every speed figure of the README as JSON lines (release build).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bin bench --bin data >/dev/null
./target/release/bench env --json
./target/release/bench oracle --json
./target/release/bench infer --json
start=$(date +%s%N)
./target/release/data generate --year 2024 --seed 7 --out "${TMPDIR:-/tmp}/powermix_synthetic_2024.parquet" >/dev/null
echo "{\"bench\":\"data_generate\",\"seconds\":$(( ($(date +%s%N) - start) / 1000000 ))e-3}"
