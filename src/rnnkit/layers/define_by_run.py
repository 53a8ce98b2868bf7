"""Layers written Keras's way: ``call()`` composes layers and operations, and the backward is
the tape of that call replayed (:mod:`rnnkit.layers.tape`).

``forward(layer, x, ...)`` watches the inputs on a new tape, lets the layer's own weights be
read raw or through ``rnnkit.ops``, runs ``layer.call`` while the tape records, and keeps the
tape as the layer's cache; ``backward(layer, dy)`` replays it: the gradients of the inputs come
back, and every weight's gradient is added into its ``.grad``. A layer with neither ``call``
nor a hand-written ``forward``/``backward`` gets an error saying which to write.
"""

import inspect

import numpy as np

from .tape import Tape


def defines_call(cls):
    """Whether ``cls`` (a Layer subclass) is written Keras's way, with its own ``call`` (the
    base class's ``call`` carries the mark ``is_base_call``)."""
    return not getattr(cls.call, "is_base_call", False)


def _flatten_inputs(x):
    if isinstance(x, (list, tuple)):
        kind = type(x)
        return list(x), lambda vs: kind(vs)
    return [x], lambda vs: vs[0]


def forward(layer, x, training, mask, kwargs):
    """Run ``layer.call`` on a tape; outputs as plain arrays."""
    if not defines_call(type(layer)):
        raise NotImplementedError(
            f"{layer.name}: {type(layer).__name__} defines neither call() nor "
            "forward()/backward(); write call() with rnnkit layers and rnnkit.ops, or "
            "forward() and a hand-written backward()")
    tape = Tape()
    tape.know_weights(layer.weights)
    flat, rebuild = _flatten_inputs(x)
    watched = [tape.watch(v) for v in flat]
    call_kwargs = dict(kwargs)
    params = inspect.signature(layer.call).parameters
    if "training" in params:
        call_kwargs["training"] = training
    if "mask" in params:
        call_kwargs["mask"] = mask
    with tape.recording():
        y = layer.call(rebuild(watched), **call_kwargs)
    outs = list(y) if isinstance(y, (list, tuple)) else [y]
    layer._cache = (tape, watched, outs, isinstance(y, (list, tuple)), rebuild)
    plain = [np.array(v) if isinstance(v, np.ndarray) else v for v in outs]
    return plain if isinstance(y, (list, tuple)) else plain[0]


def backward(layer, dy):
    """Replay the tape of ``layer``'s last call: the input gradient(s)."""
    if not defines_call(type(layer)):
        raise NotImplementedError(
            f"{layer.name}: {type(layer).__name__}.forward is written by hand, so its "
            "backward must be too: define backward(dy) (returns dx, adds into each "
            "weight's .grad)")
    if not isinstance(layer._cache, tuple) or len(layer._cache) != 5:
        raise ValueError(f"{layer.name}: backward() called before forward()")
    tape, watched, outs, multi, rebuild = layer._cache
    douts = list(dy) if multi else [dy]
    if len(douts) != len(outs):
        raise ValueError(f"{layer.name}: expected {len(outs)} output gradients, "
                         f"got {len(douts)}")
    for o, d in zip(outs, douts):
        if d is not None and np.shape(d) != np.shape(o):
            raise ValueError(f"{layer.name}: expected an output gradient of shape "
                             f"{np.shape(o)}, got {np.shape(d)}")
    grads = tape.backward(outs, douts)
    dxs = [grads.get(id(w)) for w in watched]
    dxs = [np.zeros_like(w, dtype=np.result_type(w.dtype, np.float32))
           if d is None and np.issubdtype(w.dtype, np.floating) else d
           for w, d in zip(watched, dxs)]
    return rebuild(dxs)
