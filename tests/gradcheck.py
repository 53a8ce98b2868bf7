"""Finite-difference gradient checks shared by the tests (float64).

``check_layer_gradients(layer, x, ...)`` builds the scalar loss ``L = sum(w_out * y)`` for fixed
random ``w_out``, runs the layer's hand-written ``backward`` and compares every weight gradient,
the input gradient and the gradients of any extra array arguments with central differences.
"""

import numpy as np


def numeric_grad(f, x, eps=1e-6):
    """Central differences of the scalar function ``f()`` with respect to array ``x`` (in place)."""
    g = np.zeros_like(x, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + eps
        fp = f()
        x[i] = old - eps
        fm = f()
        x[i] = old
        g[i] = (fp - fm) / (2 * eps)
    return g


def assert_close(actual, expected, rtol=1e-6, atol=1e-8, what=""):
    """``|a - e| <= atol + rtol * max|e|`` elementwise, with a readable message."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    scale = max(1.0, float(np.max(np.abs(expected)))) if expected.size else 1.0
    err = float(np.max(np.abs(actual - expected))) if expected.size else 0.0
    assert err <= atol + rtol * scale, f"{what}: max abs error {err:.3e} (scale {scale:.3e})"


def _flat(y):
    return y if isinstance(y, (list, tuple)) else [y]


def check_layer_gradients(layer, x, forward_kwargs=None, grad_args=(), seed=0, eps=1e-6,
                          rtol=1e-6, atol=1e-8, check_input=True, reset=None):
    """Compare ``layer.backward`` with central differences for weights, ``x`` and ``grad_args``.

    ``forward_kwargs`` go to ``layer.forward`` (``training``, ``mask``, ``initial_state``...).
    ``grad_args`` names keys of ``forward_kwargs`` whose arrays (or lists of arrays) get checked
    too; their gradients are the extra entries ``backward`` returns after ``dx``.
    Randomness inside forward (dropout) must repeat: ``reset()``, when given, is called before
    every forward (for instance to reseed the layer's generator).
    """
    forward_kwargs = dict(forward_kwargs or {})
    reset = reset or (lambda: None)
    rng = np.random.default_rng(seed)
    reset()
    y = _flat(layer.forward(x, **forward_kwargs))
    w_out = [rng.standard_normal(np.shape(t)) for t in y]

    def loss():
        reset()
        outs = _flat(layer.forward(x, **forward_kwargs))
        return float(sum(np.sum(w * o) for w, o in zip(w_out, outs)))

    loss()
    layer.zero_grad()
    grads = layer.backward(w_out if len(w_out) > 1 else w_out[0])
    grads = _flat(grads)
    for w in layer.weights:
        if not w.trainable:
            continue
        num = numeric_grad(loss, w.value, eps)
        assert_close(w.grad, num, rtol, atol, what=f"{layer.name} d{w.name}")
    if check_input:
        num = numeric_grad(loss, x, eps)
        assert_close(grads[0], num, rtol, atol, what=f"{layer.name} dx")
    k = 1
    for key in grad_args:
        arrays = _flat(forward_kwargs[key])
        for j, a in enumerate(arrays):
            num = numeric_grad(loss, a, eps)
            assert_close(grads[k], num, rtol, atol, what=f"{layer.name} d{key}[{j}]")
            k += 1
    return grads
