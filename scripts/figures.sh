#!/usr/bin/env bash
# Regenerates the Python figures that go stale whenever the env, the trainer or the
# expert rules change: the side-by-side table (burn PPO vs SB3 PPO, raw VectorEnv speed),
# the RLlib row and the Ray Tune table. Prints each as a Markdown table, headed by the
# date, the commit, the machine and the exact command that produced it, ready to paste
# into the docs (the figures there must say where they came from).
#
#   PYTHON=/tmp/mlvenv/bin/python scripts/figures.sh                    # all three
#   PYTHON=... scripts/figures.sh side_by_side                         # or some of them
#   PYTHON=... STEPS=200000 scripts/figures.sh side_by_side            # a shorter run
#
# Needs: the Rust toolchain; a Python (PYTHON, default python3) with powermix installed
# and, for the sections run, stable-baselines3 and torch (side_by_side), "ray[rllib]" and
# torch (rllib), "ray[tune]" (tune). CPU wheels from PyPI are enough:
#   python3 -m venv /tmp/mlvenv && /tmp/mlvenv/bin/pip install ./python stable-baselines3 torch "ray[rllib,tune]"
# About 10 minutes on the 2-core VM. Run files go to OUT (default runs/figures); the
# Markdown also goes to OUT/figures.md.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
STEPS=${STEPS:-1000000}
SEED=${SEED:-1}
OUT=${OUT:-runs/figures}
sections=("$@")
[ ${#sections[@]} -eq 0 ] && sections=(side_by_side rllib tune)
mkdir -p "$OUT"
: >"$OUT/figures.md"

# What every table is headed with: when, which commit, on what, under what load.
stamp() {
  local cpu
  cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . || echo '+changes'), ${cpu:-unknown CPU}, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) before the run; $("$PYTHON" -c 'import platform; print("Python", platform.python_version())')"
}

emit() { tee -a "$OUT/figures.md"; }

for s in "${sections[@]}"; do
  case "$s" in
  side_by_side)
    head=$(stamp)
    cmd="STEPS=$STEPS SEED=$SEED PYTHON=$PYTHON OUT=$OUT/side_by_side scripts/side_by_side.sh"
    STEPS=$STEPS SEED=$SEED PYTHON=$PYTHON OUT=$OUT/side_by_side scripts/side_by_side.sh >"$OUT/side_by_side.txt"
    "$PYTHON" - "$OUT/side_by_side" "$head" "$cmd" <<'PY' | emit
import csv, json, sys
out, head, cmd = sys.argv[1:4]
last = list(csv.DictReader(open(f"{out}/burn/metrics.csv")))[-1]
steps, sps = int(last["env_steps"]), float(last["env_steps_per_sec"])
best = json.load(open(f"{out}/burn/best/meta.json"))["validation"]
sb3 = json.load(open(f"{out}/sb3.json"))
vec = json.load(open(f"{out}/vector.json"))
try:
    import stable_baselines3, torch
    versions = f"SB3 {stable_baselines3.__version__}, torch {torch.__version__} (CPU, {sb3['torch_threads']} thread)"
except ImportError:
    versions = ""
print(f"\n### Side by side with Stable-Baselines3\n\n{head}; {versions}.\nCommand: `{cmd}`\n")
print(f"| trainer | env steps/s end to end | wall time to {steps:,} env steps | validation ({sb3['val_period']}) value captured |")
print("|---|---|---|---|")
print(f"| burn PPO (`train`, its periodic validation included) | {sps:,.0f} | {steps / sps:.1f} s | "
      f"{best['value_captured']:.3f} best ({float(last['val_value_captured']):.3f} last) |")
print(f"| SB3 PPO ({sb3['envs']} envs through `SB3VecEnv` + `VecNormalize`) | {sb3['env_steps_per_sec']:,.0f} | "
      f"{sb3['train_seconds']:.1f} s ({sb3['env_steps']:,} steps) | {sb3['val_value_captured']:.3f} |")
print(f"| raw `powermix.VectorEnv`, {vec.get('envs', 256)} envs, random actions, 1 thread | "
      f"{vec['env_steps_per_sec'] / 1e6:.2f} M | | |")
PY
    ;;
  rllib)
    head=$(stamp)
    args=(--runners 2 --iters 2 --batch 4000 --seed "$SEED")
    "$PYTHON" python/examples/rllib_ppo.py "${args[@]}" --json "$OUT/rllib.json" >"$OUT/rllib.log" 2>&1
    "$PYTHON" - "$OUT/rllib.json" "$head" "python python/examples/rllib_ppo.py ${args[*]}" <<'PY' | emit
import json, sys
r, head, cmd = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
try:
    import ray
    versions = f"Ray {ray.__version__}"
except ImportError:
    versions = ""
print(f"\n### RLlib PPO\n\n{head}; {versions}, {r['address']} Ray with {r['cluster_cpus'] or 0:g} CPUs.\nCommand: `{cmd}`\n")
print("| runners x envs | iterations | env steps | train s | env steps/s | validation value captured |")
print("|---|---|---|---|---|---|")
print(f"| {r['env_runners']} x {r['envs_per_runner']} | {r['iterations']} | {int(r['env_steps']):,} | "
      f"{r['train_seconds']:.1f} | {r['env_steps_per_sec']:,.0f} | {r['val_value_captured'] if r['val_value_captured'] is None else round(r['val_value_captured'], 2)} |")
PY
    ;;
  tune)
    head=$(stamp)
    bin="${CARGO_TARGET_DIR:-target}/release/train"
    cargo build --release --bin train >/dev/null 2>&1
    args=(--steps 50000 --seeds 1 2 --lrs 3e-4 1e-3 --train-bin "$bin")
    rm -rf "$OUT/tune"
    "$PYTHON" python/examples/tune_sweep.py "${args[@]}" --storage "$(realpath "$OUT")/tune" \
      --json "$OUT/tune.json" >"$OUT/tune.log" 2>&1
    "$PYTHON" - "$OUT/tune.json" "$head" "python python/examples/tune_sweep.py ${args[*]}" <<'PY' | emit
import json, sys
t, head, cmd = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
split = {"22-23/24": "2022-23 / 2024", "22/23": "2022 / 2023"}
rows = [r for r in t["rows"] if "error" not in r]
steps = sorted({r["env_steps"] for r in rows if "env_steps" in r})
print(f"\n### Ray Tune sweep of `train`\n\n{head}.\nCommand: `{cmd}`\n")
print(f"{t['trials']} trials of {', '.join(f'{s:,}' for s in steps) or '?'} env steps, "
      f"{t['cluster_cpus'] or 0:g} CPUs, {t['wall_seconds']:.1f} s wall.\n")
print("| seed | lr | split (train/val) | best value captured | last value captured | train steps/s | wall s |")
print("|---|---|---|---|---|---|---|")
for r in rows:
    lr = f"{r['lr']:.0e}".replace("e-0", "e-")  # 3e-4, as in train.toml
    print(f"| {r['seed']} | {lr} | {split.get(r['split'], r['split'])} | {r['best_value_captured']:.3f} | "
          f"{r['last_value_captured']:.3f} | {r['env_steps_per_sec']:,.0f} | {r['wall_seconds']:.1f} |")
for r in t["rows"]:
    if "error" in r:
        print(f"\nfailed trial {r['config']}: {r['error'][:300]}")
PY
    ;;
  *)
    echo "unknown section $s (side_by_side, rllib, tune)" >&2
    exit 2
    ;;
  esac
done
echo
echo "(also in $OUT/figures.md)"
