#!/usr/bin/env bash
# Writes the generated years of experiments/panels/regimes-synthetic.toml (runs/synth/,
# ignored by git): calendar 2025, seeds 501-504, reserve prices at early-2025 levels,
# West-hub congestion and weekend peaks; then scores the rules, the planners and a
# checkpoint on them. Usage: scripts/regime_panels.sh [CHECKPOINT_DIR]
# (default checkpoints/default).
set -euo pipefail
cd "$(dirname "$0")/.."
# Where cargo puts the binaries (CARGO_TARGET_DIR, if set, as cargo reads it).
bin="${CARGO_TARGET_DIR:-target}/release"
ckpt="${1:-checkpoints/default}"
cargo build --release --bin data --bin evaluate >/dev/null
mkdir -p runs/synth
for seed in 501 502 503 504; do
  out="runs/synth/y2025-s$seed-regimes.parquet"
  [ -f "$out" ] || "$bin"/data generate --year 2025 --seed "$seed" --reserve-regime storage-2025 \
    --congestion --weekend-peaks --out "$out"
done
"$bin"/evaluate --panel experiments/panels/regimes-synthetic.toml \
  --policies expert,day-ahead-mpc,forecast-mpc,forecast-mpc-unpriced-offer,ppo \
  --forecasts checkpoints/forecast --checkpoint "$ckpt"
