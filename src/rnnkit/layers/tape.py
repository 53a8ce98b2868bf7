"""Define-by-run gradients: a tape of what a ``call()`` did, replayed backwards.

Keras users write ``call()`` and never a backward. rnnkit layers each have a hand-written
``backward``; a model or layer that only has ``call()`` (a subclassed ``Model``, a custom
``Layer`` composed of rnnkit layers and operations) gets its backward from a tape: while its
``call`` runs, every rnnkit layer call and every array operation on the values that flow from
its inputs or its weights is recorded with its adjoint, and ``backward`` walks the records in
reverse, adding each output gradient into the gradients of that record's inputs:

    forward:   v_k = op_k(v_a, v_b, ...)                 recorded in order k = 1..K
    backward:  dv_a += adjoint_k(dv_k)_a, for k = K..1   (a layer record calls layer.backward)

Values on the tape are :class:`TapeArray` (an ``ndarray`` subclass), so plain NumPy works on
them: ``x[:, -1]``, ``a + b``, ``a * w``, ``np.concatenate``, ``x.mean(axis=1)``, ``x @ W`` are
recorded through NumPy's ``__array_ufunc__`` / ``__array_function__`` protocols, and
:mod:`rnnkit.ops` gives the same operations under Keras's names. An operation that has no
adjoint here (``np.sort``, a Python loop over ``.tolist()``...) makes a value the tape cannot
differentiate: it is marked, and a gradient that would have to flow through it stops
``backward`` with an error naming the operation, never a silently wrong gradient. A weight
(``self.kernel``) used in ``call`` gets its gradient added into ``weight.grad``.
"""

import contextlib
import contextvars

import numpy as np

from .adjoints import _FUNCTIONS, _UFUNCS, _plain, unbroadcast  # noqa: F401

_active = contextvars.ContextVar("rnnkit_tape", default=None)


def active_tape():
    """The tape recording now, or None."""
    return _active.get()


class TapeArray(np.ndarray):
    """An array whose operations are recorded on the tape that made it."""

    _tape = None          # the Tape it belongs to
    _broken = None        # why no gradient can flow through it (an operation without adjoint)
    _weight = None        # a weight leaf: gradients go to this Weight's .grad

    def __array_finalize__(self, obj):
        # a recorded value is always made from a plain array (record_op, watch); one made from
        # a recorded value by any other path (an ndarray method, a view, astype...) has no
        # adjoint on the tape: it is marked, so a gradient never passes it silently
        tape = getattr(obj, "_tape", None)
        self._tape = tape
        self._weight = None
        self._broken = None if tape is None else (
            f"an ndarray operation without adjoint on a recorded value "
            f"({type(obj).__name__} -> view/copy/astype)")

    # the ndarray methods with an adjoint go through the recorded NumPy functions
    def mean(self, axis=None, keepdims=False, **kwargs):
        return np.mean(self, axis=axis, keepdims=keepdims, **kwargs)

    def sum(self, axis=None, keepdims=False, **kwargs):
        return np.sum(self, axis=axis, keepdims=keepdims, **kwargs)

    def reshape(self, *shape, **kwargs):
        return np.reshape(self, shape[0] if len(shape) == 1 else shape, **kwargs)

    def transpose(self, *axes):
        return np.transpose(self, (axes[0] if len(axes) == 1 else axes) or None)

    @property
    def T(self):
        return np.transpose(self)

    def squeeze(self, axis=None):
        return np.squeeze(self, axis=axis)

    def ravel(self, order="C"):
        return np.ravel(self, order=order)

    def swapaxes(self, axis1, axis2):
        return np.swapaxes(self, axis1, axis2)

    def copy(self, order="C"):
        return self.reshape(self.shape)     # a recorded identity: a new value, same gradient

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        tape = _tape_of(inputs)
        plain = [_plain(v) for v in inputs]
        if "out" in kwargs:
            kwargs["out"] = tuple(_plain(o) for o in kwargs["out"])
            return _mark_broken(tape, getattr(ufunc, method)(*plain, **kwargs),
                                f"np.{ufunc.__name__}(out=...) writes in place")
        result = getattr(ufunc, method)(*plain, **kwargs)
        if isinstance(result, np.generic):
            result = np.asarray(result)
        adjoint = _UFUNCS.get(ufunc.__name__) if method == "__call__" and not kwargs else None
        if tape is None:
            return result
        if adjoint is None:
            return _mark_broken(tape, result, f"np.{ufunc.__name__}"
                                + ("" if method == "__call__" else f".{method}"))
        return tape.record_op(lambda g: adjoint(g, result, *plain), inputs, result,
                              ufunc.__name__)

    def __array_function__(self, func, types, args, kwargs):
        tape = _tape_of(args) or _tape_of(list(kwargs.values()))
        rule = _FUNCTIONS.get(func.__name__)
        plain_args = [_plain_tree(a) for a in args]
        plain_kwargs = {k: _plain_tree(v) for k, v in kwargs.items()}
        result = func(*plain_args, **plain_kwargs)
        if isinstance(result, np.generic):
            result = np.asarray(result)        # a reduction to one number stays on the tape
        if tape is None or not isinstance(result, np.ndarray):
            return result
        if rule is None:
            return _mark_broken(tape, result, f"np.{func.__name__}")
        inputs, adjoint = rule(args, kwargs, result)
        return tape.record_op(adjoint, inputs, result, func.__name__)

    def __getitem__(self, index):
        plain = _plain(self)
        index = _plain_tree(index)
        result = plain[index]
        if isinstance(result, np.generic):
            result = np.asarray(result)
        if self._tape is None or not isinstance(result, np.ndarray):
            return result

        def adjoint(g):
            dx = np.zeros_like(plain)
            np.add.at(dx, index, g)
            return [dx]
        return self._tape.record_op(adjoint, [self], result, "getitem")

    def __setitem__(self, index, value):
        raise TypeError("a value recorded for gradients cannot be changed in place; build a "
                        "new array (rnnkit.ops.concatenate, ops.where...) instead")

    def __reduce__(self):               # never pickled with its tape
        return np.asarray(self).__reduce__()


def _plain_tree(v):
    if isinstance(v, (list, tuple)):
        return type(v)(_plain_tree(x) for x in v)
    return _plain(v)


def _tape_of(values):
    for v in values:
        if isinstance(v, (list, tuple)):
            t = _tape_of(v)
            if t is not None:
                return t
        t = getattr(v, "_tape", None)
        if t is not None:
            return t
    return None


def _mark_broken(tape, result, what):
    if tape is None or not isinstance(result, np.ndarray):
        return result
    out = result.view(TapeArray)
    out._tape, out._broken = tape, what
    return out


# ---- the tape ----------------------------------------------------------------------------------
class Tape:
    """The records of one ``call()``: ``(name, adjoint, input keys, output keys)`` in order."""

    def __init__(self):
        self.records = []
        self._keep = []            # every value recorded, alive while the tape is: ids stay unique
        self._weights = {}         # id(weight.value) -> Weight, for weights read as raw arrays

    @contextlib.contextmanager
    def recording(self):
        token = _active.set(self)
        try:
            yield self
        finally:
            _active.reset(token)

    def watch(self, x):
        """``x`` as a value of this tape (an input whose gradient ``backward`` returns)."""
        out = np.asarray(x).view(TapeArray)
        out._tape = self
        self._keep.append(out)
        return out

    def watch_weight(self, weight):
        """The leaf through which ``weight``'s value is read: gradients go to ``weight.grad``."""
        out = weight.value.view(TapeArray)
        out._tape, out._weight = self, weight
        self._keep.append(out)
        return out

    def know_weights(self, weights):
        """Weights whose ``.value`` arrays, read raw inside ``call``, still get gradients."""
        for w in weights:
            self._weights[id(w.value)] = w

    def _key(self, v):
        """What a recorded input is for ``backward``: a tape value, a weight, or a constant."""
        if hasattr(v, "value") and hasattr(v, "grad"):          # a Weight object
            return ("weight", v)
        if isinstance(v, TapeArray) and v._tape is self:
            if v._weight is not None:
                return ("weight", v._weight)
            return ("value", id(v), v._broken)
        if isinstance(v, np.ndarray):
            base = v
            while base is not None:
                if id(base) in self._weights:
                    return ("weight", self._weights[id(base)])
                if isinstance(base, TapeArray) and base._tape is self:
                    return ("value", None, "a raw NumPy view (np.asarray?) of a recorded value")
                base = base.base
        return ("constant",)

    def record_op(self, adjoint, inputs, result, name):
        out = np.asarray(result).view(TapeArray)
        out._tape = self
        self._keep.append(out)
        self.records.append((name, adjoint, [self._key(v) for v in inputs], [id(out)]))
        return out

    def record_layer(self, layer, inputs, call):
        """Run ``call(plain inputs)`` (the layer's forward) and record it with
        ``layer.backward`` as its adjoint; outputs come back as tape values."""
        flat, rebuild = _flatten(inputs)
        y = call(rebuild([_plain(v) for v in flat]))
        cache = layer._cache
        multi = isinstance(y, (list, tuple))
        ys = [self.watch(v) for v in (y if multi else [y])]

        def adjoint(gs):
            layer._cache = cache
            dx = layer.backward(gs if multi else gs[0])
            if dx is None:
                return [None] * len(flat)
            return list(dx) if isinstance(dx, (list, tuple)) else [dx]
        self.records.append((f"layer {layer.name}", adjoint, [self._key(v) for v in flat],
                             [id(v) for v in ys], True))
        return ys if multi else ys[0]

    def backward(self, outputs, douts):
        """Gradients of the watched inputs (dict id -> gradient), given output gradients;
        weight gradients are added into each ``weight.grad``."""
        grads = {}
        for y, g in zip(outputs, douts):
            if g is None:
                continue
            key = self._key(y)
            if key[0] != "value":
                continue
            if key[2] is not None:
                raise _no_adjoint(key[2])
            grads[key[1]] = np.asarray(g)
        for record in reversed(self.records):
            name, adjoint, in_keys, out_ids = record[:4]
            is_layer = len(record) > 4
            gs = [grads.pop(i, None) for i in out_ids]
            if all(g is None for g in gs):
                continue
            if not is_layer:
                gs = gs[0]
            elif any(g is None for g in gs):
                gs = [np.zeros_like(self._keep_of(i)) if g is None else g
                      for i, g in zip(out_ids, gs)]
            dins = adjoint(gs)
            for key, d in zip(in_keys, dins):
                if d is None or key[0] == "constant":
                    continue
                if key[0] == "weight":
                    key[1].grad += np.asarray(d, dtype=key[1].grad.dtype)
                    continue
                if key[2] is not None:
                    raise _no_adjoint(key[2], name)
                grads[key[1]] = grads[key[1]] + d if key[1] in grads else d
        return grads

    def _keep_of(self, i):
        return next(v for v in self._keep if id(v) == i)


def _no_adjoint(what, consumer=None):
    where = f" (read by {consumer})" if consumer else ""
    return TypeError(f"a gradient has to flow through {what}{where}, which rnnkit cannot "
                     "differentiate: write it with rnnkit.ops (or the NumPy operations listed "
                     "in rnnkit.layers.tape), or give the layer a backward()")


def _flatten(x):
    if isinstance(x, (list, tuple)):
        kind = type(x)
        return list(x), lambda vs: kind(vs)
    return [x], lambda vs: vs[0]
