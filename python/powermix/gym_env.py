"""One site as a ``gymnasium.Env`` (registered as ``powermix/Site-v0``)."""

from __future__ import annotations

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


def _key(path) -> tuple | None:
    if path is None:
        return None
    p = os.path.abspath(os.fspath(path))
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
    key = (_key(data), _key(site))
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
        self._core = _core.Env(self.market, period, episode_len, 0 if seed is None else seed)
        self._first_seed = seed
        self.observation_space = box(_core.observation_space())
        self.action_space = box(_core.action_space())
        self.metadata = env_metadata(self.market, period, episode_len)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        if seed is None and self._first_seed is not None:
            seed = self._first_seed
        self._first_seed = None
        obs = self._core.reset(seed)  # checks the seed first
        super().reset(seed=seed)
        return obs, {"index": self._core.index}

    def step(self, action):
        a = as_actions(action, "action", None)
        try:
            return self._core.step(a)
        except _core.ResetNeeded as e:
            raise gymnasium.error.ResetNeeded(str(e)) from None
