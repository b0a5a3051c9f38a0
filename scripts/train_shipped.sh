#!/usr/bin/env bash
# Trains the run that checkpoints/default comes from (docs/training.md, The shipped policy)
# into runs/shipped-repro and checks that its start/ (update 0, which is also the shipped run's
# best/) holds the shipped network's bytes and corrects the shipped rules
# (checkpoints/default/expert.toml). Writes the four generated
# early-stopping years (runs/synth/, ignored by git; the same seed gives the same file).
# Usage: scripts/train_shipped.sh [STEPS] (default 8192, the shipped command; the shipped
# network is update 0, which does not depend on STEPS).
set -euo pipefail
cd "$(dirname "$0")/.."
# Where cargo puts the binaries (CARGO_TARGET_DIR, if set, as cargo reads it).
bin="${CARGO_TARGET_DIR:-target}/release"
steps="${1:-8192}"
cargo build --release --bin data --bin train >/dev/null
mkdir -p runs/synth
rm -rf runs/shipped-repro  # this script's own folder, from a clean slate
val=()
for seed in 301 302 303 304; do
  out="runs/synth/y2024-s$seed.parquet"
  [ -f "$out" ] || "$bin"/data generate --year 2024 --seed "$seed" --out "$out"
  val+=(--val-data "$out")
done
"$bin"/train --steps "$steps" --data ../shared/data/ercot/hb_south_2018_2024.parquet \
  --train-period 2019-01-01..2023-01-01 "${val[@]}" --expert checkpoints/default/expert.toml \
  --seed 18 --out runs/shipped-repro
# The rules the network corrects, as meta.json writes them.
rules() { sed -n '/"base_policy"/,/}/p' "$1/meta.json"; }
if cmp -s runs/shipped-repro/start/model.bpk checkpoints/default/model.bpk &&
  [ "$(rules runs/shipped-repro/start)" = "$(rules checkpoints/default)" ]; then
  echo "runs/shipped-repro/start holds the shipped network's bytes and rules"
else
  echo "runs/shipped-repro/start differs from checkpoints/default (network or rules)" >&2
  exit 1
fi
