"""Boundary checks: every array that comes from outside is checked here, in Python, before any
compiled kernel sees it.

The compiled kernels (:mod:`rnnkit.kernels.fast`) index their arguments without bounds checks;
a ``dy`` of the wrong shape would make them read and write outside the arrays. So each layer
passes what it was given (``dy`` in ``backward``, initial states, masks, streamed inputs)
through one of these functions first, which returns a C-contiguous array of the layer's dtype
and exactly the expected shape, or raises:

* ``TypeError`` when the values are not numbers (strings, objects, complex numbers);
* ``ValueError`` naming the layer, what was expected and what came, for a wrong shape or a
  wrong structure (a list of the wrong length).

No broadcasting: a (1, 1) or (H,) ``dy`` for a (B, H) output is refused, not spread.

>>> import numpy as np
>>> from rnnkit.layers import GRU
>>> gru = GRU(8, name="gru")
>>> _ = gru.forward(np.ones((4, 3, 2), "float32"))
>>> gru.backward(np.ones((1, 1), "float32"))
Traceback (most recent call last):
    ...
ValueError: gru: expected the output gradient dy of shape (4, 8), got (1, 1)
"""

import numpy as np

_NUMERIC = "fiub"        # float, signed and unsigned int, bool


def as_array(layer, a, shape, what, dtype=None, note=""):
    """``a`` as a C-contiguous array of ``dtype`` (the layer's by default) and shape ``shape``.

    Args:
        layer: the layer named in the error messages.
        a: anything ``np.asarray`` takes.
        shape: the exact expected shape, a tuple of ints.
        what: what ``a`` is, for the messages ("the output gradient dy").
        dtype: the dtype of the result; ``bool`` for masks.
        note: said after the expected shape (" (batch, time)").
    """
    name = getattr(layer, "name", layer)
    try:
        arr = np.asarray(a)
    except (ValueError, TypeError) as e:       # ragged nested lists, ...
        raise ValueError(f"{name}: expected {what} of shape {tuple(shape)}, got something that "
                         f"is not an array ({e})") from None
    if arr.dtype.kind not in _NUMERIC:
        raise TypeError(f"{name}: expected a numeric input array for {what} (shape "
                        f"{tuple(shape)}), got dtype {arr.dtype}")
    if arr.shape != tuple(shape):
        raise ValueError(f"{name}: expected {what} of shape {tuple(shape)}{note}, "
                         f"got {arr.shape}")
    return np.ascontiguousarray(arr, dtype=dtype or layer.dtype)


def grad_list(layer, dy, n, what="output gradients"):
    """``dy`` as a list of ``n`` entries (a layer with several outputs takes one per output)."""
    name = getattr(layer, "name", layer)
    if n == 1:
        return [dy]
    if not isinstance(dy, (list, tuple)):
        raise ValueError(f"{name}: expected a list of {n} {what} (one per output, None "
                         f"allowed), got {type(dy).__name__}")
    if len(dy) != n:
        raise ValueError(f"{name}: expected {n} {what} (one per output), got {len(dy)}")
    return list(dy)


def recurrent_output_grads(layer, dy, B, T):
    """Check ``dy`` given to a recurrent layer's ``backward``: ``(d_output, [d_state, ...])``.

    The output is (B, T, H) with ``return_sequences``, else (B, H); with ``return_state`` ``dy``
    is the list ``[d_output, *d_final_states]``, each state (B, H). Any entry may be None.
    """
    H, n = layer.units, len(layer.state_names)
    if layer.return_state:
        dy = grad_list(layer, dy, 1 + n)
        dy_out, d_states = dy[0], dy[1:]
    else:
        if dy is None:
            raise ValueError(f"{layer.name}: expected the output gradient dy, got None")
        dy_out, d_states = dy, [None] * n
    out_shape = (B, T, H) if layer.return_sequences else (B, H)
    if dy_out is not None:
        dy_out = as_array(layer, dy_out, out_shape, "the output gradient dy")
    d_states = [None if d is None else
                as_array(layer, d, (B, H), f"the gradient of the final state {s}")
                for s, d in zip(layer.state_names, d_states)]
    return dy_out, d_states


def sequence_input(layer, x):
    """Refuse an empty batch or a zero-length sequence, which no recurrent layer can run."""
    B, T = x.shape[:2]
    if B == 0 or T == 0:
        raise ValueError(f"{layer.name}: expected at least one sequence of at least one step, "
                         f"got input shape {x.shape} (batch {B}, time {T})")


def bidirectional_output_grads(layer, dy, y, y_rev):
    """Check ``dy`` given to ``Bidirectional.backward`` against the outputs it produced.

    ``y`` and ``y_rev`` are the two directions' outputs (input order); the merged output is
    their concatenation on the last axis (``concat``), or has their shape (``sum``, ``ave``,
    ``mul``), or is both of them (``merge_mode=None``); with ``return_state`` the final states
    of the forward layer, then of the backward layer, follow, each (B, H).
    """
    fwd, bwd = layer.forward_layer, layer.backward_layer
    if layer.merge_mode is None:
        shapes = [y.shape, y_rev.shape]
    elif layer.merge_mode == "concat":
        shapes = [y.shape[:-1] + (y.shape[-1] + y_rev.shape[-1],)]
    else:
        shapes = [y.shape]
    B = y.shape[0]
    if layer.return_state:
        shapes += [(B, fwd.units)] * len(fwd.state_names) + [(B, bwd.units)] * len(bwd.state_names)
    dy = grad_list(layer, dy, len(shapes))
    if len(shapes) == 1 and dy[0] is None:
        raise ValueError(f"{layer.name}: expected the output gradient dy, got None")
    return [None if d is None else as_array(layer, d, s, f"output gradient {i}")
            for i, (d, s) in enumerate(zip(dy, shapes))]


def leading_batch_time(layer, dy, B, T):
    """``TimeDistributed.backward``: every gradient must start with the (B, T) of the input."""
    for d in (dy if isinstance(dy, (list, tuple)) else [dy]):
        if d is None:
            continue
        shape = np.shape(d) if isinstance(d, np.ndarray) else np.asarray(d).shape
        if shape[:2] != (B, T):
            raise ValueError(f"{layer.name}: expected an output gradient of shape "
                             f"({B}, {T}, ...) (batch, time, ...), got {shape}")


def booleans(layer, **flags):
    """Refuse a flag that is not a bool: ``return_sequences="no"`` would be true."""
    for name, value in flags.items():
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{layer.name}: {name} must be True or False, got {value!r}")
