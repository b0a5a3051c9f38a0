import numpy as np
import pytest

import powermix

#: A short evaluation period of the embedded synthetic data (keeps oracle LPs small).
WEEK = "2024-03-04..2024-03-11"


@pytest.fixture(scope="session")
def market():
    return powermix.market()


@pytest.fixture
def rng():
    return np.random.default_rng(0)
