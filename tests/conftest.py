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


@pytest.fixture(params=["reference", "fast"])
def kernels(request, monkeypatch):
    """Run the test once with each kernel set: the NumPy reference and the compiled fast path.

    ``RNNKIT_KERNELS`` is read by :mod:`rnnkit.kernels.dispatch` at every call, so setting it
    here selects the kernels for everything the test runs. ``fast`` means the compiled kernels
    or an error, never a silent fallback; it is skipped (with the reason) only where numba or
    numpy's BLAS is missing. Options the fast kernels do not implement (other activations,
    float16) run the reference in both.
    """
    from rnnkit.kernels import dispatch

    if request.param == "fast" and not dispatch.fast_available():
        pytest.skip(f"the fast kernels cannot run here: {dispatch._load_fast()}")
    monkeypatch.setenv("RNNKIT_KERNELS", request.param)
    return request.param


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
