"""Stable-Baselines3 PPO on powermix, scored like the project's own PPO.

    pip install ./python stable-baselines3 torch   # torch CPU wheels are enough
    python python/examples/sb3_ppo.py --steps 1000000

Trains on the same period as ``cargo run --release --bin train`` with no arguments (the
embedded synthetic 2022-2023), with the same PPO hyperparameters where SB3 has them
(configs/train.toml: 32 envs x 256 steps, 2 epochs, minibatch 2048, gamma 0.95, GAE 0.95,
clip 0.2, lr 3e-4 annealed, grad norm 0.5, a 32x32 MLP, log std -1), then scores the
deterministic policy on the validation period (synthetic 2024) through ``powermix.score``:
the Rust harness that ``train`` validates with. What SB3 does not have: our trainer's
residual policy (it learns a correction to the expert rules) and its always-on reward
baseline; SB3 learns the action from scratch on VecNormalize-scaled rewards.

Prints one JSON line (``--json FILE`` also writes it).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import VecNormalize

import powermix
from powermix.sb3 import SB3VecEnv


def main() -> None:
    # The whole docstring: its first line alone stops mid-sentence in some of the examples.
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--steps", type=int, default=1_000_000, help="total env steps")
    p.add_argument("--envs", type=int, default=32)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--data", default=None, help="market parquet (default: embedded synthetic)")
    p.add_argument("--train-period", default=powermix.SYNTHETIC_TRAIN_PERIOD)
    p.add_argument("--val-period", default=powermix.SYNTHETIC_VAL_PERIOD)
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument("--json", default=None, help="also write the result here")
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    env = SB3VecEnv(a.envs, data=a.data, period=a.train_period, seed=a.seed)
    env = VecNormalize(env, norm_obs=True, norm_reward=True, clip_obs=10.0, gamma=0.95)
    model = PPO(
        "MlpPolicy",
        env,
        n_steps=256,
        batch_size=2048,
        n_epochs=2,
        gamma=0.95,
        gae_lambda=0.95,
        clip_range=0.2,
        ent_coef=0.0,
        vf_coef=0.5,
        learning_rate=lambda progress: 3e-4 * progress,
        max_grad_norm=0.5,
        policy_kwargs={"net_arch": [32, 32], "log_std_init": -1.0},
        seed=a.seed,
        device="cpu",
        verbose=0,
    )
    t0 = time.perf_counter()
    model.learn(total_timesteps=a.steps)
    wall = time.perf_counter() - t0
    steps = int(model.num_timesteps)

    env.training = False

    def policy(obs: np.ndarray) -> np.ndarray:
        action, _ = model.predict(env.normalize_obs(obs[None]), deterministic=True)
        return np.clip(action[0], 0.0, 1.0)

    t1 = time.perf_counter()
    s = powermix.score(policy, data=a.data, period=a.val_period, seed=a.seed)
    out = {
        "trainer": "sb3-ppo",
        "env_steps": steps,
        "train_seconds": round(wall, 2),
        "env_steps_per_sec": round(steps / wall, 1),
        "val_period": a.val_period,
        "val_profit_usd": s.profit_usd,
        "val_value_captured": s.value_captured,
        "always_on_usd": s.always_on_usd,
        "oracle_usd": s.oracle_usd,
        "score_seconds": round(time.perf_counter() - t1, 2),
        "envs": a.envs,
        "seed": a.seed,
        "torch_threads": a.threads,
    }
    line = json.dumps(out)
    print(line)
    if a.json:
        with open(a.json, "w") as f:
            f.write(line + "\n")


if __name__ == "__main__":
    main()
