#!/usr/bin/env bash
# SB3 PPO and our burn PPO side by side, same machine, same session, same number of env
# steps, same train and validation periods (embedded synthetic 2022-2023 / 2024), both
# scored by the Rust harness; then raw env steps/s through the Python VectorEnv.
#
#   PYTHON=.venv-ml/bin/python scripts/side_by_side.sh            # STEPS=1000000 by default
#
# Needs: the Rust toolchain; a Python with powermix, stable-baselines3 and torch installed
# (pip install ./python stable-baselines3 torch). Prints one table.
set -euo pipefail
cd "$(dirname "$0")/.."
# Where cargo puts the binaries (CARGO_TARGET_DIR, if set, as cargo reads it).
bin="${CARGO_TARGET_DIR:-target}/release"
PYTHON=${PYTHON:-python3}
STEPS=${STEPS:-1000000}
SEED=${SEED:-1}
OUT=${OUT:-runs/side_by_side}
mkdir -p "$OUT"

cargo build --release --bin train >/dev/null 2>&1

# Our PPO: the train binary's own count of training wall time and steps/s (its periodic
# validation included), its validation score from the run folder.
rm -rf "$OUT/burn"
"$bin"/train --steps "$STEPS" --seed "$SEED" --out "$OUT/burn" >"$OUT/burn.log" 2>&1
# Raw env steps/s first, while nothing else of ours runs.
"$PYTHON" python/examples/bench_vector.py --envs 256 --seconds 15 --json "$OUT/vector.json" >/dev/null
# SB3 runs exactly as many env steps as train did (train rounds to whole updates).
steps=$(sed -n 's/^trained \([0-9]*\) env steps.*/\1/p' "$OUT/burn.log")
"$PYTHON" python/examples/sb3_ppo.py --steps "$steps" --seed "$SEED" --json "$OUT/sb3.json" >"$OUT/sb3.log" 2>&1

"$PYTHON" - "$OUT" <<'PY'
import csv, json, re, sys, os, platform
out = sys.argv[1]
log = open(f"{out}/burn.log").read()
rows = list(csv.DictReader(open(f"{out}/burn/metrics.csv")))
last = rows[-1]
# train's own end-to-end rate (rollouts, updates and its periodic validation).
burn_steps, burn_sps = int(last["env_steps"]), float(last["env_steps_per_sec"])
burn_wall = burn_steps / burn_sps
best = json.load(open(f"{out}/burn/best/meta.json"))["validation"]
sb3 = json.load(open(f"{out}/sb3.json"))
vec = json.load(open(f"{out}/vector.json"))
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
print(f"machine: {cpu}, {os.cpu_count()} cores; env steps: burn {burn_steps}, SB3 {sb3['env_steps']}; validation {sb3['val_period']}")
print(f"{'trainer':<28} {'env steps/s':>12} {'wall s':>8} {'val value captured':>20}")
print(f"{'burn PPO (train)':<28} {burn_sps:>12.0f} {burn_wall:>8.1f} "
      f"{float(last['val_value_captured']):>11.3f} last, {best['value_captured']:.3f} best")
print(f"{'SB3 PPO (sb3_ppo.py)':<28} {sb3['env_steps_per_sec']:>12.0f} {sb3['train_seconds']:>8.1f} "
      f"{sb3['val_value_captured']:>11.3f} last")
print(f"{'Python VectorEnv, 256 envs':<28} {vec['env_steps_per_sec']:>12.0f} {'':>8} {'(random actions, 1 thread)':>20}")
PY
