"""N sites as one ``gymnasium.vector.VectorEnv``, stepped by the Rust ``VecEnv``."""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from . import _powermix as _core
from ._powermix import ACTION_DIM
from ._util import as_actions
from ._powermix import Market
from .gym_env import DEFAULT_EPISODE_LEN, _path, box, copy_env, env_metadata, market

#: Attributes that are numpy views of the Rust buffers (a copy makes its own).
_VIEWS = ("_obs", "_final_obs", "_rewards", "_terminated", "_truncated")


class VectorEnv(gymnasium.vector.VectorEnv):
    """``num_envs`` sites stepped together in Rust, with the GIL released.

    Same arguments as :class:`powermix.SiteEnv`, plus ``num_envs`` and ``copy``.

    Buffers: observations, rewards (float32) and the terminated/truncated flags are numpy
    views of the Rust ``VecEnv``'s own buffers. With ``copy=False`` (the default) ``step``
    and ``reset`` return those views, read-only, and the next ``step`` or ``reset``
    overwrites them in place: no copy per step. Copy what you keep
    (``obs.copy()``), or pass ``copy=True`` to get fresh arrays every step, as Gymnasium's
    own vector envs do by default.

    Autoreset: ``AutoresetMode.SAME_STEP``, as the Rust ``VecEnv`` does it. A sub-env whose
    episode ends is reset in the same step: its row of ``obs`` is the new episode's first
    observation, ``infos["final_obs"][i]`` the observation the episode ended on (to
    bootstrap a truncated episode) and ``infos["final_info"]["episode_profit"][i]`` the
    episode's profit, with the ``_final_obs`` / ``_final_info`` masks.

    Seeds: ``reset(seed=s)`` seeds sub-env ``i`` with ``s + i``, ``reset(seed=[s0, s1, ...])``
    each one with its own seed; sub-env ``i`` then runs exactly as ``SiteEnv`` reset with
    the same seed. Without a seed, the first reset uses stream ``i`` of the constructor's
    ``seed`` for sub-env ``i`` (how the project's Rust trainer seeds its envs).

    Copies and pickles: as :class:`powermix.SiteEnv`. ``copy.deepcopy`` copies every
    sub-env at its point, into buffers of its own; a pickle carries the constructor's
    arguments, and the unpickled vector env starts with ``reset()``.
    """

    metadata: dict[str, Any] = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": []}

    def __init__(
        self,
        num_envs: int = 1,
        data=None,
        period: str | None = None,
        site=None,
        seed: int | None = None,
        episode_len: int | None = DEFAULT_EPISODE_LEN,
        copy: bool = False,
        render_mode: str | None = None,
    ):
        if render_mode is not None:
            raise ValueError(f"render_mode={render_mode!r}: powermix has no render modes")
        if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)):
            raise TypeError(
                f"num_envs={num_envs!r}: expected a whole number (int) of envs, at least 1, "
                f"not {type(num_envs).__name__}"
            )
        if num_envs < 1:
            raise ValueError(f"num_envs={num_envs!r}: must be a whole number >= 1")
        self.market = market(data, site)
        self.num_envs = int(num_envs)
        self.copy = copy
        self._core = _core.VecEnv(self.market, self.num_envs, period, episode_len, seed)
        self._bind_buffers()
        # What a pickle carries: the arguments, with paths made absolute.
        self._init_kwargs = {
            "num_envs": self.num_envs,
            "data": self.market if isinstance(data, Market) else _path(data),
            "period": period,
            "site": _path(site),
            "seed": seed,
            "episode_len": episode_len,
            "copy": copy,
        }
        self._lengths = np.zeros(self.num_envs, dtype=np.int64)
        self._needs_reset = True
        self.single_observation_space = box(_core.observation_space())
        self.single_action_space = box(_core.action_space())
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.metadata = {
            **env_metadata(self.market, period, episode_len),
            "autoreset_mode": AutoresetMode.SAME_STEP,
        }

    def _bind_buffers(self):
        """Numpy views of the Rust core's buffers, read-only."""
        views = self._core.buffers()
        for name, b in zip(_VIEWS, views):
            b.flags.writeable = False
            setattr(self, name, b)

    def __getstate__(self):
        return self._init_kwargs

    def __setstate__(self, state):
        self.__init__(**state)

    def __deepcopy__(self, memo):
        new = copy_env(self, memo, _VIEWS)
        new._bind_buffers()
        return new

    def __copy__(self):
        # Two vector envs sharing one Rust core would step each other: a copy is deep.
        return self.__deepcopy__({})

    def reset(self, *, seed: int | list[int] | None = None, options: dict | None = None):
        if seed is None:
            seeds = None
        elif isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
            seeds = [int(seed) + i for i in range(self.num_envs)]
        elif isinstance(seed, (list, tuple, np.ndarray)):
            seeds = list(seed)
            if any(s is None for s in seeds):
                raise ValueError(f"seed={seed!r}: give every sub-env a seed, or none")
        else:
            raise TypeError(
                f"seed={seed!r}: expected an int (sub-env i gets seed + i), a list of "
                f"{self.num_envs} ints (one per sub-env) or None, not {type(seed).__name__}"
            )
        self._core.reset(seeds)  # checks the seeds first
        super().reset(seed=int(seeds[0]) if seeds else None)  # numpy ints too
        self._lengths[:] = 0
        self._needs_reset = False
        return (self._obs.copy() if self.copy else self._obs), {}

    def step(self, actions):
        if self._needs_reset:
            raise gymnasium.error.ResetNeeded("Cannot call step() before calling reset()")
        a = as_actions(actions, "actions", self.num_envs)
        done = self._core.step(a)
        self._lengths += 1
        infos: dict[str, Any] = {}
        if done is not None:
            infos = self._final_infos(*done)
        if self.copy:
            return (
                self._obs.copy(),
                self._rewards.copy(),
                self._terminated.copy(),
                self._truncated.copy(),
                infos,
            )
        return self._obs, self._rewards, self._terminated, self._truncated, infos

    def _final_infos(self, idx: list[int], returns: list[float]) -> dict[str, Any]:
        n = self.num_envs
        mask = np.zeros(n, dtype=bool)
        mask[idx] = True
        final_obs = np.full(n, None, dtype=object)
        for i in idx:
            final_obs[i] = self._final_obs[i].copy()
        profit = np.zeros(n, dtype=np.float64)
        profit[idx] = returns
        lengths = np.zeros(n, dtype=np.int64)
        lengths[idx] = self._lengths[idx]
        self._lengths[idx] = 0
        return {
            "final_obs": final_obs,
            "_final_obs": mask,
            "final_info": {
                "episode_profit": profit,
                "_episode_profit": mask.copy(),
                "episode_intervals": lengths,
                "_episode_intervals": mask.copy(),
            },
            "_final_info": mask.copy(),
        }

    def index(self, i: int) -> int:
        """Index (into the market data) of the interval sub-env ``i`` steps next."""
        return self._core.index(i)

    def close_extras(self, **kwargs):
        pass


__all__ = ["VectorEnv", "ACTION_DIM"]
