#!/usr/bin/env bash
# Prints every speed figure of README.md and docs/results.md as JSON lines (release build).
set -euo pipefail
cd "$(dirname "$0")/.."
# Where cargo puts the binaries (CARGO_TARGET_DIR, if set, as cargo reads it).
bin="${CARGO_TARGET_DIR:-target}/release"
cargo build --release --bin bench --bin data >/dev/null
"$bin"/bench env --json
"$bin"/bench oracle --json
"$bin"/bench infer --json
start=$(date +%s%N)
"$bin"/data generate --year 2024 --seed 7 --out "${TMPDIR:-/tmp}/powermix_synthetic_2024.parquet" >/dev/null
echo "{\"bench\":\"data_generate\",\"seconds\":$(( ($(date +%s%N) - start) / 1000000 ))e-3}"
