import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))  # lets tests import gradcheck

import rnnkit  # noqa: E402
from rnnkit import config  # noqa: E402
from rnnkit.layers.base import clear_session  # noqa: E402

SHARED_DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")


@pytest.fixture(autouse=True)
def _fresh_session():
    """Each test starts with float32, fresh layer names and a fixed global seed."""
    config.set_floatx("float32")
    clear_session()
    rnnkit.random.set_random_seed(1234)
    yield
    config.set_floatx("float32")


@pytest.fixture
def float64():
    config.set_floatx("float64")
    yield
    config.set_floatx("float32")


@pytest.fixture
def shared_data():
    """Path of ../shared/data, or skip when this machine does not have it."""
    path = os.path.abspath(SHARED_DATA)
    if not os.path.isdir(path):
        pytest.skip(f"shared data folder not found at {path}")
    return path
