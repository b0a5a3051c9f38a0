"""Argument checks shared by the env, the vector env and score()."""

from __future__ import annotations

import numpy as np

from ._powermix import ACTION_DIM, ACTION_NAMES


def as_actions(x, arg: str, rows: int | None) -> np.ndarray:
    """`x` as a C-contiguous float32 array of shape (ACTION_DIM,) when `rows` is None, else
    (rows, ACTION_DIM) (rows = -1: any number of rows). Any real floating dtype is accepted
    and converted; other dtypes, and other shapes, raise ValueError naming `arg`. NaN and
    infinity are refused by the Rust side, which names the value."""
    a = x if type(x) is np.ndarray else np.asarray(x)
    if a.dtype != np.float32:
        if a.dtype.kind != "f":
            raise ValueError(
                f"{arg} has dtype {a.dtype}: expected float32 (any real float dtype is converted), "
                f"values in [0, 1] for {', '.join(ACTION_NAMES)}"
            )
        a = a.astype(np.float32)
    expected = (ACTION_DIM,) if rows is None else (rows, ACTION_DIM)
    if a.ndim != len(expected) or any(e not in (-1, s) for e, s in zip(expected, a.shape)):
        shown = str(expected).replace("-1", "n")
        raise ValueError(
            f"{arg} has shape {a.shape}, expected {shown}: {', '.join(ACTION_NAMES)}"
        )
    if not a.flags.c_contiguous:
        a = np.ascontiguousarray(a)
    return a
