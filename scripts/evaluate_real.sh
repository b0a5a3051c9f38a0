#!/usr/bin/env bash
# Reproduces the evaluation tables of docs/results.md on the shared HB_WEST data (2021,
# 2023, 2024), with JSON and reports under runs/eval/. Usage: scripts/evaluate_real.sh [DATA_FILE]
set -euo pipefail
cd "$(dirname "$0")/.."
# Where cargo puts the binaries (CARGO_TARGET_DIR, if set, as cargo reads it).
bin="${CARGO_TARGET_DIR:-target}/release"
data="${1:-../shared/data/ercot/hb_west_2018_2024.parquet}"
[ -f "$data" ] || { echo "error: $data not found (the shared ERCOT data lives in ../shared/data)" >&2; exit 2; }
cargo build --release --bin evaluate >/dev/null
for year in 2021 2023 2024; do
  out="runs/eval/$year"
  mkdir -p "$out"
  "$bin"/evaluate --data "$data" --period "$year-01-01..$((year + 1))-01-01" \
    --json "$out/scores.json" --report "$out"
done
