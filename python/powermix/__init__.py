"""powermix: a Texas site (AI data center + bitcoin miners) on ERCOT markets, as a Gymnasium env.

The simulation, settlement and evaluation are the project's Rust code (``powermix._powermix``);
this package is a thin layer that gives them the interfaces Python RL users expect:

- ``gymnasium.make("powermix/Site-v0", data=None, period=None, site=None, seed=None)``:
  one site, a :class:`SiteEnv`;
- :class:`VectorEnv`: N sites stepped together in Rust with the GIL released, into numpy
  buffers that are not copied (``gymnasium.make_vec("powermix/Site-v0", num_envs=256)``);
- :func:`score`: a policy (or a trajectory of actions) scored by the Rust evaluation harness,
  exactly like the project's own policies (profit, value captured, always-on, oracle);
- ``powermix.sb3.SB3VecEnv``: the adapter for Stable-Baselines3 (which must be installed).

Dimensions and names are read from the Rust env (``OBS_NAMES``, ``ACTION_NAMES``,
``LEDGER_LINES``), never written here.
"""

from __future__ import annotations

import gymnasium

from . import _powermix as _core
from ._powermix import (
    ACTION_DIM,
    ACTION_NAMES,
    EMBEDDED_SOURCE,
    INTERVAL_MINUTES,
    LEDGER_LINES,
    OBS_DIM,
    OBS_NAMES,
    RESERVE_NAMES,
    Market,
)
from .gym_env import SiteEnv, market
from .scoring import score
from .vector import VectorEnv

__version__ = _core.__version__

#: Periods of the embedded synthetic data that the project's ``train`` uses by default.
SYNTHETIC_TRAIN_PERIOD = "2022-01-01..2024-01-01"
SYNTHETIC_VAL_PERIOD = "2024-01-01..2025-01-01"

ENV_ID = "powermix/Site-v0"

if ENV_ID not in gymnasium.registry:
    gymnasium.register(
        id=ENV_ID,
        entry_point="powermix.gym_env:SiteEnv",
        vector_entry_point="powermix.vector:VectorEnv",
    )

__all__ = [
    "ACTION_DIM",
    "ACTION_NAMES",
    "EMBEDDED_SOURCE",
    "ENV_ID",
    "INTERVAL_MINUTES",
    "LEDGER_LINES",
    "Market",
    "OBS_DIM",
    "OBS_NAMES",
    "RESERVE_NAMES",
    "SYNTHETIC_TRAIN_PERIOD",
    "SYNTHETIC_VAL_PERIOD",
    "SiteEnv",
    "VectorEnv",
    "market",
    "score",
]
