#!/usr/bin/env bash
# Fits the forecasts as shipped in checkpoints/forecast (docs/forecasts.md): the real
# HB_WEST file, plus twelve generated summers with weekend heat waves for the 4CP models
# (runs/synth/fit4cp-sS.parquet, ignored by git; the same seed gives the same file).
# Usage: scripts/fit_forecasts.sh [OUT_DIR] (default runs/forecast-gen). Needs ../shared/data.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${CARGO_TARGET_DIR:-target}/release"
out="${1:-runs/forecast-gen}"
cargo build --release --bin data --bin forecast >/dev/null
mkdir -p runs/synth
also=()
for seed in 601 604 607 610; do
  f="runs/synth/fit4cp-s$seed.parquet"
  [ -f "$f" ] || "$bin"/data generate --year 2021 --years 3 --seed "$seed" --weekend-peaks --out "$f"
  also+=(--also-fit "$f")
done
"$bin"/forecast fit --data ../shared/data/ercot/hb_west_2018_2024.parquet --out "$out" "${also[@]}"
