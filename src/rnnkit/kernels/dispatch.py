"""Which kernel runs a recurrence: the compiled fast path or the NumPy reference.

``kernels_for(cell, layer, dtype)`` returns the ``(forward, backward)`` pair for one call of a
layer; ``inference_kernel_for`` the forward-only fast kernel (or None) used under
:func:`rnnkit.grad_mode.inference_mode`; ``input_forward_for`` the fast forward that does the
input projection inside its loop (or None). The fast kernels (:mod:`rnnkit.kernels.fast`, Numba)
are used when

* the environment variable ``RNNKIT_KERNELS`` is not ``"reference"`` (it is read at every call,
  so tests and users can switch at run time; ``"fast"`` makes a missing numba an error instead
  of a silent fallback; unset or ``"auto"`` means fast where possible),
* numba imports and numpy's BLAS was found (see :mod:`rnnkit.kernels.fast._lowlevel`),
* the dtype is float32 or float64,
* the activations are the defaults the fast kernels implement: tanh for the candidate / cell and
  sigmoid for the gates (LSTM, GRU, LayerNormLSTM); tanh or relu for SimpleRNN.

Otherwise the reference kernel runs; it stays the readable truth and both have one contract.
"""

import os

import numpy as np

from . import gru as _ref_gru
from . import ln_lstm as _ref_ln_lstm
from . import lstm as _ref_lstm
from . import simple_rnn as _ref_rnn

_REFERENCE = {
    "lstm": (_ref_lstm.lstm_forward, _ref_lstm.lstm_backward),
    "gru": (_ref_gru.gru_forward, _ref_gru.gru_backward),
    "simple_rnn": (_ref_rnn.simple_rnn_forward, _ref_rnn.simple_rnn_backward),
    "ln_lstm": (_ref_ln_lstm.ln_lstm_forward, _ref_ln_lstm.ln_lstm_backward),
}
_FAST_ACTIVATIONS = {  # cell -> (allowed activation names, allowed recurrent_activation names)
    "lstm": ({"tanh"}, {"sigmoid"}),
    "gru": ({"tanh"}, {"sigmoid"}),
    "simple_rnn": ({"tanh", "relu"}, None),
    "ln_lstm": ({"tanh"}, {"sigmoid"}),
}
_fast = None          # the fast modules once imported, or the ImportError that stopped them


def mode():
    """``"auto"``, ``"fast"`` or ``"reference"``, from ``RNNKIT_KERNELS``."""
    value = os.environ.get("RNNKIT_KERNELS", "auto").strip().lower() or "auto"
    if value not in ("auto", "fast", "reference"):
        raise ValueError(f"RNNKIT_KERNELS must be 'auto', 'fast' or 'reference', got {value!r}")
    return value


def _load_fast():
    global _fast
    if _fast is None:
        try:
            from .fast import AVAILABLE
            if not AVAILABLE:
                raise ImportError("numpy's bundled OpenBLAS (64-bit cblas_?gemm) was not found")
            from .fast import gru, ln_lstm, lstm, simple_rnn
            _fast = {
                "lstm": (lstm.lstm_forward, lstm.lstm_backward, lstm.lstm_infer,
                         lstm.lstm_forward_x),
                "gru": (gru.gru_forward, gru.gru_backward, gru.gru_infer, gru.gru_forward_x),
                "simple_rnn": (simple_rnn.simple_rnn_forward, simple_rnn.simple_rnn_backward,
                               simple_rnn.simple_rnn_infer, simple_rnn.simple_rnn_forward_x),
                # forward-only: from xn, like the cached forward (no from-x variant)
                "ln_lstm": (ln_lstm.ln_lstm_forward, ln_lstm.ln_lstm_backward,
                            ln_lstm.ln_lstm_infer, None),
            }
        except Exception as e:  # noqa: BLE001 - numba missing or unusable: reference only
            _fast = e if isinstance(e, ImportError) else \
                ImportError(f"{e.__class__.__name__}: {e}")
    return _fast


def fast_available():
    """True when the compiled kernels can run here (numba and numpy's BLAS found)."""
    return not isinstance(_load_fast(), ImportError)


def supports_fast(cell, layer, dtype):
    """Whether the fast kernel implements this layer's options for ``dtype``."""
    if np.dtype(dtype) not in (np.float32, np.float64):
        return False
    acts, rec_acts = _FAST_ACTIVATIONS[cell]
    if layer is None:
        return True
    if layer.activation.name not in acts:
        return False
    return rec_acts is None or layer.recurrent_activation.name in rec_acts


def _fast_for(cell, layer, dtype):
    """The fast modules' kernels for ``cell`` when they apply here, else None."""
    m = mode()
    if m == "reference" or not supports_fast(cell, layer, dtype):
        return None
    fast = _load_fast()
    if isinstance(fast, ImportError):
        if m == "fast":
            raise ImportError(f"RNNKIT_KERNELS=fast, but the fast kernels cannot run: {fast}")
        return None
    return fast[cell]


def kernels_for(cell, layer=None, dtype=np.float32):
    """The ``(forward, backward)`` kernel pair for ``cell`` ("lstm", "gru", "simple_rnn",
    "ln_lstm")."""
    fast = _fast_for(cell, layer, dtype)
    return _REFERENCE[cell] if fast is None else fast[:2]


def input_forward_for(cell, layer=None, dtype=np.float32):
    """The fast forward kernel that takes the inputs instead of ``xw`` (e.g.
    :func:`rnnkit.kernels.fast.lstm.lstm_forward_x`: the input projection done per step
    inside the loop), or None where there is none: the layer then projects first."""
    fast = _fast_for(cell, layer, dtype)
    return None if fast is None else fast[3]


def step_kernels_for(cell, layer=None, dtype=np.float32):
    """The compiled one-step module (:mod:`rnnkit.kernels.fast.step`: ``pack``, ``lstm_step``,
    ``gru_step``, ``simple_rnn_step``) where the fast path applies to this layer, else None:
    the caller then steps with the layer's cell (``layer.cell.step``), the NumPy reference."""
    if _fast_for(cell, layer, dtype) is None:
        return None
    from .fast import step
    return step


def inference_kernel_for(cell, layer=None, dtype=np.float32):
    """The fast forward-only kernel for ``cell`` (e.g. :func:`rnnkit.kernels.fast.lstm.
    lstm_infer`: no cache, output written batch-first), or None where the fast path does not
    apply: the layer then runs the cached forward and drops the cache."""
    fast = _fast_for(cell, layer, dtype)
    return None if fast is None else fast[2]
