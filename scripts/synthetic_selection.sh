#!/usr/bin/env bash
# Writes the synthetic years of experiments/panels/selection-synthetic.toml (runs/synth/,
# ignored by git) and scores a checkpoint on them: eight generated years, each with its own
# summer and so its own four 4CP peaks. Usage: scripts/synthetic_selection.sh [CHECKPOINT_DIR]
# (default checkpoints/default). See docs/experiments/2026-12-01-synthetic-summers.md.
set -euo pipefail
cd "$(dirname "$0")/.."
# Where cargo puts the binaries (CARGO_TARGET_DIR, if set, as cargo reads it).
bin="${CARGO_TARGET_DIR:-target}/release"
ckpt="${1:-checkpoints/default}"
cargo build --release --bin data --bin evaluate >/dev/null
mkdir -p runs/synth
for seed in 101 102 103 104 105 106 107 108; do
  out="runs/synth/y2024-s$seed.parquet"
  [ -f "$out" ] || "$bin"/data generate --year 2024 --seed "$seed" --out "$out"
done
"$bin"/evaluate --panel experiments/panels/selection-synthetic.toml --policies ppo,day-ahead-mpc,expert \
  --checkpoint "$ckpt"
