"""score(): a Python policy scored by the project's Rust evaluation harness."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import _powermix as _core
from ._util import as_actions
from .gym_env import market


@dataclass(frozen=True)
class Score:
    """A policy's result on a period, computed by the Rust harness (``eval`` crate)."""

    #: Total profit over the period ($).
    profit_usd: float
    #: (profit - always-on) / (oracle - always-on); None when the oracle gains nothing.
    value_captured: float | None
    #: Profit of the always-on baseline on the same period and seed ($).
    always_on_usd: float
    #: Profit of the perfect-foresight oracle (LP) replayed through the same env ($).
    oracle_usd: float
    #: Each ledger line summed over the period ($), named as ``LEDGER_LINES``.
    ledger: dict
    energy_mwh: float
    profit_per_mwh: float
    ai_uptime: float
    four_cp_load_mw: float
    intervals: int
    #: Interval indices [start, end) in the market data, and the deployment seed.
    start: int
    end: int
    seed: int
    #: Profit of each interval ($), in order.
    profit: np.ndarray = field(repr=False)


def score(
    policy=None,
    data=None,
    period: str | None = None,
    site=None,
    seed: int = 1,
    *,
    actions=None,
) -> Score:
    """Scores ``policy`` on ``period`` with the project's evaluation harness.

    ``policy`` is either a callable ``obs -> action`` (obs: float32 features named
    ``OBS_NAMES``; action: ``ACTION_DIM`` floats) called once per interval, or a trajectory:
    an array of one action row per interval of the period (also accepted as ``actions=``).
    ``data`` and ``site`` are as for ``SiteEnv``; ``period`` defaults to the validation year
    2024 of the embedded synthetic data (what ``train`` validates on), or to all of a data
    file. ``seed`` seeds the reserve deployments (``train`` validates with its run seed,
    1 by default). The backtest, always-on and oracle are the Rust ``backtest`` and harness
    used by ``evaluate`` and ``train``, so the value captured is comparable to theirs.
    """
    if policy is not None and actions is not None:
        raise ValueError("give the policy or actions=, not both")
    if policy is None and actions is None:
        raise ValueError("policy: give a callable obs -> action, or an array of actions")
    m = market(data, site)
    if period is None and data is None:
        from . import SYNTHETIC_VAL_PERIOD

        period = SYNTHETIC_VAL_PERIOD
    if policy is not None and not callable(policy):
        actions, policy = policy, None
    if actions is not None:
        r = _core.score(m, period, seed, actions=as_actions(actions, "actions", -1))
    else:

        def act(obs):
            return as_actions(policy(obs), "policy's action", None)

        r = _core.score(m, period, seed, policy=act)
    return Score(**r)
