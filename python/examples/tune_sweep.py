"""Ray Tune runs the project's Rust ``train`` binary as trials: seeds x learning rates x
data splits, each trial one ``train`` process, its validation score read from its run folder.

    cargo build --release --bin train
    pip install "ray[tune]"
    python python/examples/tune_sweep.py --steps 200000                   # local Ray
    ray start --head; python python/examples/tune_sweep.py --address auto --seeds 1 2 3 4

On a cluster, every node needs the ``train`` binary at ``--train-bin`` (and the data file,
if any, at the same path): build it on each node or put both on a shared file system. Each
trial asks Ray for ``--cpus-per-trial`` CPUs (``train`` runs 2 threads by default), so
extra machines run more seeds and sweep points at once.

What a trial reads from its run folder (``train --out DIR``): ``DIR/best/meta.json``
(``validation``: value captured, profit, always-on and oracle of the best checkpoint) and
the last row of ``DIR/metrics.csv`` (``val_value_captured`` at the end of the run).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import subprocess
import time
from pathlib import Path

from ray import tune

REPO = Path(__file__).resolve().parents[2]

#: (train period, validation period) pairs of the embedded synthetic data.
SPLITS = {
    "22-23/24": ("2022-01-01..2024-01-01", "2024-01-01..2025-01-01"),
    "22/23": ("2022-01-01..2023-01-01", "2023-01-01..2024-01-01"),
}


def run_train(config: dict) -> None:
    """One trial: one `train` process in the trial's own folder."""
    out = Path(os.getcwd()) / "run"  # Tune runs each trial in its own working directory
    out.mkdir(parents=True, exist_ok=True)
    # The hyperparameters are configs/train.toml with this trial's learning rate.
    toml = (Path(config["repo"]) / "configs" / "train.toml").read_text()
    toml, n = re.subn(r"(?m)^learning_rate\s*=.*$", f"learning_rate = {config['lr']}", toml)
    assert n == 1, "configs/train.toml has no learning_rate line"
    (out / "train.toml").write_text(toml)
    train, val = SPLITS[config["split"]]
    cmd = [
        config["train_bin"], "--seed", str(config["seed"]), "--steps", str(config["steps"]),
        "--train-period", train, "--val-period", val, "--config", str(out / "train.toml"),
        "--out", str(out),
    ]
    if config.get("data"):
        cmd += ["--data", config["data"]]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=config["repo"])
    (out / "train.log").write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        raise RuntimeError(f"train failed ({proc.returncode}): {proc.stderr[-2000:]}")
    best = json.loads((out / "best" / "meta.json").read_text())["validation"]
    with open(out / "metrics.csv") as f:
        last = list(csv.DictReader(f))[-1]
    tune.report(
        {
            "best_value_captured": best["value_captured"],
            "best_update": best["update"],
            "last_value_captured": float(last["val_value_captured"]),
            "env_steps": int(last["env_steps"]),
            "env_steps_per_sec": float(last["env_steps_per_sec"]),
            "wall_seconds": round(time.perf_counter() - t0, 1),
            "run_dir": str(out),
        }
    )


def main() -> None:
    # The whole docstring: its first line alone stops mid-sentence in some of the examples.
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--address", default=None, help="Ray cluster address (default: local Ray)")
    # Where cargo puts the binary: CARGO_TARGET_DIR if set (as cargo reads it), else target/.
    target = Path(os.environ.get("CARGO_TARGET_DIR") or REPO / "target")
    p.add_argument("--train-bin", default=str(target / "release" / "train"),
                   help="the train binary (default: %(default)s)")
    p.add_argument("--steps", type=int, default=200_000, help="env steps per trial")
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    p.add_argument("--lrs", type=float, nargs="+", default=[3e-4, 1e-3])
    p.add_argument("--splits", nargs="+", default=list(SPLITS), choices=list(SPLITS))
    p.add_argument("--cpus-per-trial", type=float, default=1)
    p.add_argument("--data", default=None, help="market parquet (default: embedded synthetic)")
    p.add_argument("--storage", default=str(REPO / "runs" / "tune"), help="Tune results folder")
    p.add_argument("--json", default=None)
    a = p.parse_args()
    if not Path(a.train_bin).exists():
        raise SystemExit(f"--train-bin {a.train_bin}: not found; run cargo build --release --bin train")

    import ray

    ray.init(address=a.address)
    space = {
        "seed": tune.grid_search(a.seeds),
        "lr": tune.grid_search(a.lrs),
        "split": tune.grid_search(a.splits),
        "steps": a.steps,
        "train_bin": a.train_bin,
        "repo": str(REPO),
        "data": a.data,
    }
    t0 = time.perf_counter()
    tuner = tune.Tuner(
        tune.with_resources(run_train, {"cpu": a.cpus_per_trial}),
        param_space=space,
        tune_config=tune.TuneConfig(metric="best_value_captured", mode="max"),
        run_config=tune.RunConfig(storage_path=a.storage, name="train_sweep", verbose=0),
    )
    results = tuner.fit()
    wall = time.perf_counter() - t0
    rows = []
    for r in results:
        if r.error:
            rows.append({"config": {k: r.config[k] for k in ("seed", "lr", "split")}, "error": str(r.error)})
            continue
        m = r.metrics
        rows.append(
            {
                "seed": r.config["seed"],
                "lr": r.config["lr"],
                "split": r.config["split"],
                "best_value_captured": round(m["best_value_captured"], 4),
                "last_value_captured": round(m["last_value_captured"], 4),
                "env_steps": m["env_steps"],
                "env_steps_per_sec": m["env_steps_per_sec"],
                "wall_seconds": m["wall_seconds"],
            }
        )
    print(f"{'seed':>4} {'lr':>8} {'split':>9} {'best_vc':>8} {'last_vc':>8} {'steps/s':>9} {'wall_s':>7}")
    for r in rows:
        if "error" in r:
            print(r)
            continue
        print(
            f"{r['seed']:>4} {r['lr']:>8.0e} {r['split']:>9} {r['best_value_captured']:>8.3f} "
            f"{r['last_value_captured']:>8.3f} {r['env_steps_per_sec']:>9.0f} {r['wall_seconds']:>7.1f}"
        )
    summary = {"trials": len(rows), "wall_seconds": round(wall, 1),
               "cluster_cpus": ray.cluster_resources().get("CPU"), "rows": rows}
    print(json.dumps(summary))
    if a.json:
        Path(a.json).write_text(json.dumps(summary, indent=1) + "\n")


if __name__ == "__main__":
    main()
