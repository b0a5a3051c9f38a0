"""One site as a ``gymnasium.Env`` (registered as ``powermix/Site-v0``)."""

from __future__ import annotations

import copy
import os
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from . import _powermix as _core
from ._powermix import ACTION_NAMES, LEDGER_LINES, OBS_NAMES, Market
from ._util import as_actions

#: Random episodes last 14 days of 15-minute intervals, as in configs/train.toml
#: (episode_days); ``episode_len=None`` runs one episode over the whole period.
DEFAULT_EPISODE_LEN = 14 * 24 * 60 // _core.INTERVAL_MINUTES

#: Observation features that say when action values are read: ``da_gate`` flags the
#: interval starting 10:00 US/Central on D-1, the only one at which ``da_offer_*``,
#: ``da_min_price_*`` and ``da_peak_withhold`` (the day-ahead reserve offer for every hour
#: of D, less the withheld share in the peak window) count.
_GATE_FEATURES = ("da_gate",)

_MARKETS: dict[tuple, Market] = {}


def _key(path, arg: str) -> tuple | None:
    if path is None:
        return None
    try:
        p = os.path.abspath(os.fspath(path))
    except TypeError:
        raise TypeError(
            f"{arg}={path!r}: expected a path (str or os.PathLike) or None, "
            f"not {type(path).__name__}"
        ) from None
    try:
        return (p, os.stat(p).st_mtime_ns)
    except OSError:
        return (p, None)


def market(data=None, site=None) -> Market:
    """The :class:`Market` of ``data`` (a parquet file; None: the embedded synthetic years
    2022-2024) and ``site`` (a site TOML; None: the shipped site), built once per process
    and shared by every env made from it. ``data`` may also be a ``Market``."""
    if isinstance(data, Market):
        if site is not None:
            raise ValueError("site: give the site config when building the Market, not with one")
        return data
    key = (_key(data, "data"), _key(site, "site"))
    m = _MARKETS.get(key)
    if m is None:
        m = Market(
            data=None if key[0] is None else key[0][0],
            site=None if key[1] is None else key[1][0],
        )
        _MARKETS[key] = m
    return m


def box(space: dict) -> spaces.Box:
    return spaces.Box(low=space["low"], high=space["high"], dtype=np.float32)


def env_metadata(m: Market, period, episode_len) -> dict[str, Any]:
    return {
        "render_modes": [],
        "obs_names": list(OBS_NAMES),
        "action_names": list(ACTION_NAMES),
        "ledger_lines": list(LEDGER_LINES),
        "gate_features": [n for n in _GATE_FEATURES if n in OBS_NAMES],
        "data": m.source,
        "period": period if period is not None else m.period,
        "episode_len": episode_len,
        "interval_minutes": _core.INTERVAL_MINUTES,
    }


class SiteEnv(gymnasium.Env):
    """One site on ERCOT markets, every 15 minutes: the Rust ``Env``.

    Args:
        data: market parquet file, a :class:`Market`, or None for the embedded synthetic
            years 2022-2024 (no file needed).
        period: ``"YYYY-MM-DD..YYYY-MM-DD"`` (US/Central dates, end exclusive) episodes are
            drawn from; None: all of the data.
        site: site config TOML (None: the shipped ``configs/site.toml``).
        seed: seed of the first ``reset()`` (episode starts and reserve deployments).
        episode_len: intervals per episode, starting at random in ``period``; None: one
            episode over the whole period (evaluation).

    Observation: float32 features named ``metadata["obs_names"]``. Action: float32 values
    in [0, 1] named ``metadata["action_names"]`` (the safety layer projects them to a
    feasible dispatch). Reward: the interval's profit in dollars; ``info["ledger"]`` has
    each line, and at episode end ``info["episode_profit"]`` the episode's profit.

    Some action values are read only at one interval a day (the day-ahead reserve offer
    ``da_offer_*``, ``da_min_price_*``, ``da_peak_withhold`` at the gate, 10:00 US/Central
    on D-1): they are ordinary action values, so a trainer learns them like the others.
    ``metadata["gate_features"]`` names the observation feature that flags the gate.

    Copies: ``copy.deepcopy(env)`` (and ``copy.copy``) is an independent env at the same
    point of the same episode, random stream included; the market data is shared (it is
    immutable). ``pickle`` (multiprocessing, Ray) carries the constructor's arguments, not
    the episode: the unpickled env is built anew from them (data and site files at the same
    absolute paths; a :class:`Market` pickles as its files' paths) and starts with
    ``reset()``, whose first call without a seed uses the constructor's ``seed`` as here.
    Given the same ``reset(seed=...)`` and actions, it gives the same observations and
    rewards as the original.
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(
        self,
        data=None,
        period: str | None = None,
        site=None,
        seed: int | None = None,
        episode_len: int | None = DEFAULT_EPISODE_LEN,
        render_mode: str | None = None,
    ):
        if render_mode is not None:
            raise ValueError(f"render_mode={render_mode!r}: powermix has no render modes")
        self.market = market(data, site)
        self._core = _core.Env(self.market, period, episode_len, seed)
        self._first_seed = seed
        # What a pickle carries: the arguments, with paths made absolute.
        self._init_kwargs = {
            "data": self.market if isinstance(data, Market) else _path(data),
            "period": period,
            "site": _path(site),
            "seed": seed,
            "episode_len": episode_len,
        }
        self.observation_space = box(_core.observation_space())
        self.action_space = box(_core.action_space())
        self.metadata = env_metadata(self.market, period, episode_len)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        if seed is None and self._first_seed is not None:
            seed = self._first_seed
        self._first_seed = None
        obs = self._core.reset(seed)  # checks the seed first
        super().reset(seed=None if seed is None else int(seed))  # numpy ints too
        return obs, {"index": self._core.index}

    def step(self, action):
        a = as_actions(action, "action", None)
        try:
            return self._core.step(a)
        except _core.ResetNeeded as e:
            raise gymnasium.error.ResetNeeded(str(e)) from None

    def __getstate__(self):
        return self._init_kwargs

    def __setstate__(self, state):
        self.__init__(**state)

    def __deepcopy__(self, memo):
        return copy_env(self, memo, ())

    def __copy__(self):
        # Two envs sharing one Rust core would step each other's episode: a copy is deep.
        return copy_env(self, {}, ())


def _path(p) -> str | None:
    """An already checked path argument, absolute (unpickling may happen in another folder)."""
    return None if p is None else os.path.abspath(os.fspath(p))


def copy_env(env, memo, skip):
    """A deep copy of ``env``'s attributes but those in ``skip`` (the Rust core copies itself:
    an independent env at the same point; the Market is immutable and shared)."""
    new = type(env).__new__(type(env))
    memo[id(env)] = new
    for k, v in env.__dict__.items():
        if k not in skip:
            new.__dict__[k] = copy.deepcopy(v, memo)
    return new
