"""The adjoints the tape (:mod:`rnnkit.layers.tape`) replays: one per NumPy ufunc and function
it records, each ``adjoint(g, ...) -> [gradient of each input]`` with ``g`` the gradient of the
output; broadcasting is undone by summing (:func:`unbroadcast`).

    add/subtract: g, -g        multiply: g*b, g*a        divide: g/b, -g*a/b^2
    matmul: g @ b^T, a^T @ g   tanh: g*(1-y^2)           exp: g*y        log: g/a
    sum/mean: g spread (/n)    concatenate/stack: g split  reshape/transpose: g put back
    where: g where the condition holds, and elsewhere
"""

import numpy as np


def _plain(v):
    """The array of a tape value or a weight (a NumPy array as it is)."""
    if hasattr(v, "view") and type(v) is not np.ndarray and isinstance(v, np.ndarray):
        return v.view(np.ndarray)
    return v.value if hasattr(v, "value") and hasattr(v, "grad") else v


def unbroadcast(g, shape):
    """Sum ``g`` down to ``shape``: the adjoint of NumPy broadcasting."""
    g = np.asarray(g)
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for axis, n in enumerate(shape):
        if n == 1 and g.shape[axis] != 1:
            g = g.sum(axis=axis, keepdims=True)
    return g


# ---- adjoints: g is the output gradient, y the output, then the inputs -------------------------
def _ub(g, *xs):
    return [unbroadcast(g, np.shape(x)) for x in xs]


def _matmul_adjoint(g, y, a, b):
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim == 1 or b.ndim == 1:
        raise TypeError("matmul of a vector is not recorded; reshape to 2-D")
    da = g @ np.swapaxes(b, -1, -2)
    db = np.swapaxes(a, -1, -2) @ g
    return [unbroadcast(da, a.shape), unbroadcast(db, b.shape)]


_UFUNCS = {
    "add": lambda g, y, a, b: _ub(g, a, b),
    "subtract": lambda g, y, a, b: [unbroadcast(g, np.shape(a)), unbroadcast(-g, np.shape(b))],
    "multiply": lambda g, y, a, b: [unbroadcast(g * b, np.shape(a)),
                                    unbroadcast(g * a, np.shape(b))],
    "divide": lambda g, y, a, b: [unbroadcast(g / b, np.shape(a)),
                                  unbroadcast(-g * a / (b * b), np.shape(b))],
    "negative": lambda g, y, a: [-g],
    "positive": lambda g, y, a: [g],
    "matmul": _matmul_adjoint,
    "tanh": lambda g, y, a: [g * (1 - y * y)],
    "exp": lambda g, y, a: [g * y],
    "log": lambda g, y, a: [g / a],
    "sqrt": lambda g, y, a: [g / (2 * y)],
    "square": lambda g, y, a: [2 * g * a],
    "absolute": lambda g, y, a: [g * np.sign(a)],
    "maximum": lambda g, y, a, b: [unbroadcast(g * (a >= b), np.shape(a)),
                                   unbroadcast(g * (a < b), np.shape(b))],
    "minimum": lambda g, y, a, b: [unbroadcast(g * (a <= b), np.shape(a)),
                                   unbroadcast(g * (a > b), np.shape(b))],
}
_UFUNCS["true_divide"] = _UFUNCS["divide"]


def _axis_arg(args, kwargs, pos, name, default=None):
    return args[pos] if len(args) > pos else kwargs.get(name, default)


def _reduce_rule(kind):
    def rule(args, kwargs, y):
        x = args[0]
        axis = _axis_arg(args, kwargs, 1, "axis")
        keepdims = kwargs.get("keepdims", False)
        shape = np.shape(_plain(x))

        def adjoint(g):
            g = np.asarray(g)
            if axis is not None and not keepdims:
                g = np.expand_dims(g, axis)
            n = 1 if kind == "sum" else (np.prod(shape) if axis is None else
                                         np.prod([shape[a] for a in np.atleast_1d(axis)]))
            return [np.broadcast_to(g / n, shape).copy()]
        return [x], adjoint
    return rule


def _concat_rule(args, kwargs, y):
    xs = list(args[0])
    axis = _axis_arg(args, kwargs, 1, "axis", 0)
    sizes = np.cumsum([np.shape(_plain(x))[axis] for x in xs])[:-1]
    return xs, lambda g: np.split(g, sizes, axis=axis)


def _stack_rule(args, kwargs, y):
    xs = list(args[0])
    axis = _axis_arg(args, kwargs, 1, "axis", 0)
    return xs, lambda g: [np.take(g, i, axis=axis) for i in range(len(xs))]


def _shape_rule(args, kwargs, y):
    x = args[0]
    shape = np.shape(_plain(x))
    return [x], lambda g: [np.reshape(g, shape)]


def _transpose_rule(args, kwargs, y):
    x = args[0]
    axes = _axis_arg(args, kwargs, 1, "axes")
    inverse = None if axes is None else np.argsort(axes)
    return [x], lambda g: [np.transpose(g, inverse)]


def _swapaxes_rule(args, kwargs, y):
    a1, a2 = args[1], args[2]
    return [args[0]], lambda g: [np.swapaxes(g, a1, a2)]


def _where_rule(args, kwargs, y):
    cond, a, b = _plain(args[0]), args[1], args[2]
    return [a, b], lambda g: [unbroadcast(np.where(cond, g, 0), np.shape(_plain(a))),
                              unbroadcast(np.where(cond, 0, g), np.shape(_plain(b)))]


_FUNCTIONS = {
    "sum": _reduce_rule("sum"), "mean": _reduce_rule("mean"),
    "concatenate": _concat_rule, "stack": _stack_rule,
    "reshape": _shape_rule, "squeeze": _shape_rule, "expand_dims": _shape_rule,
    "ravel": _shape_rule, "transpose": _transpose_rule, "swapaxes": _swapaxes_rule,
    "where": _where_rule,
    "matmul": lambda args, kwargs, y: (list(args[:2]), lambda g: _matmul_adjoint(
        g, y, _plain(args[0]), _plain(args[1]))),
}
