"""RLlib PPO on powermix with N env runners, on a local Ray or a cluster.

    pip install ./python "ray[rllib]" torch
    python python/examples/rllib_ppo.py --runners 2 --iters 3            # local Ray
    ray start --head                                                      # or a cluster:
    python python/examples/rllib_ppo.py --address auto --runners 8 --envs-per-runner 4

Every worker process needs ``powermix`` installed (``pip install ./python`` on each node,
or a Ray runtime_env); the env is registered by name with a creator function that imports
powermix inside the worker, so nothing but the name and the env config crosses the wire.
Scaling: RLlib samples with ``runners x envs_per_runner`` envs in parallel. At the end the
deterministic policy is scored on the validation period by ``powermix.score`` (the Rust
harness), like every other policy of the project.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import ray
from ray.rllib.algorithms.ppo import PPOConfig
from ray.tune.registry import register_env

ENV_NAME = "powermix-site"


def make_env(config: dict):
    import powermix  # imported in each worker

    return powermix.SiteEnv(**config)


def main() -> None:
    import powermix

    # The whole docstring: its first line alone stops mid-sentence in some of the examples.
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--address", default=None, help="Ray cluster address (default: start a local Ray)")
    p.add_argument("--runners", type=int, default=2, help="num_env_runners")
    p.add_argument("--envs-per-runner", type=int, default=1)
    p.add_argument("--iters", type=int, default=3)
    p.add_argument("--batch", type=int, default=4000, help="train batch (env steps) per iteration")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--data", default=None, help="market parquet, at the same path on every node")
    p.add_argument("--train-period", default=powermix.SYNTHETIC_TRAIN_PERIOD)
    p.add_argument("--val-period", default=powermix.SYNTHETIC_VAL_PERIOD)
    p.add_argument("--json", default=None)
    a = p.parse_args()

    ray.init(address=a.address)
    register_env(ENV_NAME, make_env)
    env_config = {"data": a.data, "period": a.train_period}
    config = (
        PPOConfig()
        .environment(ENV_NAME, env_config=env_config)
        .env_runners(
            num_env_runners=a.runners,
            num_envs_per_env_runner=a.envs_per_runner,
            num_cpus_per_env_runner=1,
        )
        .training(
            gamma=0.95,
            lambda_=0.95,
            lr=3e-4,
            clip_param=0.2,
            train_batch_size_per_learner=a.batch,
            minibatch_size=min(2048, a.batch),
            num_epochs=2,
            grad_clip=0.5,
        )
        .rl_module(model_config={"fcnet_hiddens": [32, 32]})
        .debugging(seed=a.seed)
    )
    algo = config.build_algo()
    t0 = time.perf_counter()
    steps = 0
    for i in range(a.iters):
        r = algo.train()
        steps = int(r["num_env_steps_sampled_lifetime"])  # RLlib reports it as a float
        ret = r.get("env_runners", {}).get("episode_return_mean")
        print(f"iter {i + 1}: {steps} env steps, episode return mean {ret}", flush=True)
    wall = time.perf_counter() - t0

    module = algo.get_module()
    import torch

    def policy(obs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            out = module.forward_inference({"obs": torch.from_numpy(obs[None])})
        mean = out["action_dist_inputs"][0, : powermix.ACTION_DIM].numpy()
        return np.clip(mean, 0.0, 1.0)

    s = powermix.score(policy, data=a.data, period=a.val_period, seed=a.seed)
    res = {
        "trainer": "rllib-ppo",
        "address": a.address or "local",
        "cluster_cpus": ray.cluster_resources().get("CPU"),
        "env_runners": a.runners,
        "envs_per_runner": a.envs_per_runner,
        "iterations": a.iters,
        "env_steps": steps,
        "train_seconds": round(wall, 1),
        "env_steps_per_sec": round(steps / wall, 1),
        "val_value_captured": s.value_captured,
        "val_profit_usd": s.profit_usd,
    }
    print(json.dumps(res))
    if a.json:
        with open(a.json, "w") as f:
            f.write(json.dumps(res) + "\n")
    algo.stop()


if __name__ == "__main__":
    main()
