"""Raw env steps/s through powermix.VectorEnv: random actions, no learning.

    python python/examples/bench_vector.py --envs 256 --seconds 10

Counts every sub-env step of ``VectorEnv.step`` (Rust, GIL released, no copies) and
includes drawing the random actions with numpy each step. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

import powermix


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--envs", type=int, default=256)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--repeats", type=int, default=3, help="best of this many runs")
    p.add_argument("--json", default=None)
    a = p.parse_args()

    v = powermix.VectorEnv(a.envs, period=powermix.SYNTHETIC_TRAIN_PERIOD, seed=0)
    v.reset(seed=0)
    rng = np.random.default_rng(0)
    shape = (a.envs, powermix.ACTION_DIM)
    for _ in range(200):  # warm-up
        v.step(rng.random(shape, dtype=np.float32))
    rates = []
    for _ in range(a.repeats):
        n = 0
        t0 = time.perf_counter()
        while True:
            for _ in range(100):
                v.step(rng.random(shape, dtype=np.float32))
            n += 100
            dt = time.perf_counter() - t0
            if dt >= a.seconds / a.repeats:
                break
        rates.append(n * a.envs / dt)
    out = {
        "bench": "python-vector-env",
        "envs": a.envs,
        "env_steps_per_sec": round(max(rates)),
        "runs": [round(r) for r in rates],
        "cpu_affinity": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
    }
    line = json.dumps(out)
    print(line)
    if a.json:
        with open(a.json, "w") as f:
            f.write(line + "\n")


if __name__ == "__main__":
    main()
