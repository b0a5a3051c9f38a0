"""Stable-Baselines3 adapter: ``SB3VecEnv`` is an SB3 ``VecEnv`` over :class:`powermix.VectorEnv`.

Importing this module imports stable_baselines3 (``pip install stable-baselines3``); the
``powermix`` package itself never does.

SB3 conventions: ``reset()`` returns observations only; sub-envs reset in the same step and
``infos[i]["terminal_observation"]`` holds the observation their episode ended on, with
``infos[i]["TimeLimit.truncated"]`` for episodes cut by the window (SB3 bootstraps those);
``infos[i]["episode"]`` carries ``r`` (profit, $), ``l`` and ``t`` for SB3's logger.
"""

from __future__ import annotations

import time

import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import VecEnv

from .gym_env import DEFAULT_EPISODE_LEN
from .vector import VectorEnv


class SB3VecEnv(VecEnv):
    """``num_envs`` powermix sites for SB3 (same arguments as :class:`powermix.VectorEnv`)."""

    def __init__(
        self,
        num_envs: int = 8,
        data=None,
        period: str | None = None,
        site=None,
        seed: int | None = None,
        episode_len: int | None = DEFAULT_EPISODE_LEN,
    ):
        self.venv = VectorEnv(
            num_envs, data=data, period=period, site=site, seed=seed, episode_len=episode_len
        )
        super().__init__(
            num_envs, self.venv.single_observation_space, self.venv.single_action_space
        )
        self.metadata = self.venv.metadata
        self._actions = None
        self._t0 = time.time()

    def reset(self):
        seeds = getattr(self, "_seeds", None) or []
        seed = [int(s) for s in seeds] if seeds and all(s is not None for s in seeds) else None
        obs, _ = self.venv.reset(seed=seed)
        if hasattr(self, "_reset_seeds"):
            self._reset_seeds()
        if hasattr(self, "_reset_options"):
            self._reset_options()
        return obs.copy()

    def step_async(self, actions):
        self._actions = actions

    def step_wait(self):
        obs, rewards, terminated, truncated, info = self.venv.step(self._actions)
        dones = terminated | truncated
        infos = [{} for _ in range(self.num_envs)]
        if info:
            final_obs = info["final_obs"]
            fi = info["final_info"]
            t = round(time.time() - self._t0, 6)
            for i in np.flatnonzero(dones):
                infos[i]["terminal_observation"] = final_obs[i]
                infos[i]["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
                infos[i]["episode"] = {
                    "r": float(fi["episode_profit"][i]),
                    "l": int(fi["episode_intervals"][i]),
                    "t": t,
                }
        return obs.copy(), rewards.copy(), dones, infos

    def close(self):
        self.venv.close()

    def get_attr(self, attr_name, indices=None):
        return [getattr(self.venv, attr_name)] * len(self._get_indices(indices))

    def set_attr(self, attr_name, value, indices=None):
        setattr(self.venv, attr_name, value)

    def env_method(self, method_name, *method_args, indices=None, **method_kwargs):
        raise NotImplementedError(
            f"env_method({method_name!r}): powermix sub-envs live in Rust and have no Python methods"
        )

    def env_is_wrapped(self, wrapper_class, indices=None):
        return [False] * len(self._get_indices(indices))


__all__ = ["SB3VecEnv"]
