"""Looking inside training: gradients through time and gradient norms around clipping.

Two problems of recurrent networks made visible (the "vanishing and exploding gradients" of
Bengio, Simard & Frasconi 1994; Pascanu, Mikolov & Bengio 2013).

**Gradients through time.** For a SimpleRNN ``h_t = tanh(a_t)``, ``a_t = x_t W + h_{t-1} U + b``,
the chain rule gives, one step back (row vectors, as the code)::

    dL/dh_{t-1} = (dL/dh_t * (1 - h_t**2)) U^T  (+ the direct gradient of an output at t-1)

so for a many-to-one model (only h_T feeds the loss)::

    dL/dh_t = dL/dh_T  J_T J_{T-1} ... J_{t+1},      J_s = diag(1 - h_s**2) U^T   (H, H)
    ||dL/dh_t|| <= ||dL/dh_T|| * prod_s ||diag(1 - h_s**2)|| ||U||
                <= ||dL/dh_T|| * sigma_max(U)**(T - t)

A product of T - t Jacobians: when their norms stay below 1 (tanh' = 1 - h**2 < 1 wherever h is
not 0) it shrinks geometrically and the loss cannot tell how h_t (hence x_t) should change --
the gradient vanishes. When they stay above 1 (relu, whose derivative is 1 where active, with
``sigma_max(U) > 1``) it grows geometrically -- the gradient explodes, and one step of gradient
descent can throw the weights to where the loss is inf or NaN. An LSTM carries a second path,
``dL/dc_{t-1} = dL/dc_t * f_t`` (elementwise, the forget gate): it does not shrink where the
network learns ``f ~= 1``. At initialisation (forget bias 1, ``f ~= sigmoid(1) ~= 0.73``) it
still shrinks, faster than the orthogonally-initialised SimpleRNN's; what differs is that
training can open it (see tests/test_learning.py and examples/vanishing_gradients.py).

:func:`state_gradients` returns ``dL/dh_t`` for every step (the layer records it during BPTT,
see ``Recurrent.record_state_grads``); :func:`state_gradient_norms` its norm per step.
:func:`gradient_norms` and :class:`GradientNormHistory` give the global gradient norm before
and after the optimizer's clipping (``clipnorm`` / ``global_clipnorm`` / ``clipvalue``).

Every function here runs one forward and one backward with the model's compiled loss and leaves
the model as it found it: weights, optimizer state and every weight's ``.grad`` are unchanged.

>>> import numpy as np, rnnkit
>>> from rnnkit import layers
>>> from rnnkit.datasets import adding_problem
>>> x, y = adding_problem(8, 20, seed=0)
>>> model = rnnkit.Sequential([layers.Input((20, 2)), layers.SimpleRNN(4, seed=0), layers.Dense(1)])
>>> _ = model.compile(optimizer="sgd", loss="mse")
>>> state_gradient_norms(model, x, y).shape
(20,)
>>> sorted(gradient_norms(model, x, y))
['clipping', 'loss', 'norm_after', 'norm_before', 'weight_norms']
"""

import math

import numpy as np

from .layers.bidirectional import Bidirectional
from .layers.recurrent import Recurrent
from .training.callbacks import Callback
from .training.data import check_data, unwrap
from .training.optimizers.base import clip_gradients, global_norm


# ---- finding the layer ---------------------------------------------------------------------
def recurrent_layers(model):
    """Every recurrent layer of ``model`` in ``model.layers`` order, looking inside
    Bidirectional (forward layer, then backward layer) and nested models."""
    found = []
    for layer in getattr(model, "layers", []):
        if isinstance(layer, Recurrent):
            found.append(layer)
        elif isinstance(layer, Bidirectional):
            found += [layer.forward_layer, layer.backward_layer]
        elif hasattr(layer, "layers"):
            found += recurrent_layers(layer)
    return found


def _find_layer(model, layer):
    """The Recurrent layer meant by ``layer``: None (the first), a name, or a layer object
    (a Bidirectional means its forward layer)."""
    candidates = recurrent_layers(model)
    if not candidates:
        raise ValueError(f"{model.name}: the model has no recurrent layer (SimpleRNN, LSTM, GRU)")
    if layer is None:
        return candidates[0]
    if isinstance(layer, str):
        for c in candidates:
            if c.name == layer:
                return c
        bis = [b for b in getattr(model, "layers", []) if isinstance(b, Bidirectional)]
        for b in bis:
            if b.name == layer:
                return b.forward_layer
        raise ValueError(f"{model.name}: no recurrent layer named {layer!r}; recurrent layers: "
                         f"{[c.name for c in candidates]}")
    if isinstance(layer, Bidirectional):
        layer = layer.forward_layer
    if not any(c is layer for c in candidates):
        raise ValueError(f"{model.name}: {getattr(layer, 'name', layer)!r} is not a recurrent "
                         f"layer of this model; recurrent layers: {[c.name for c in candidates]}")
    return layer


# ---- one forward and backward that leave the model as it was ---------------------------------
def _backward_pass(model, x, y, sample_weight, training, where):
    """Zero the grads, run forward + compiled loss + backward; returns the loss value.

    The caller saves and restores the ``.grad`` arrays (see :class:`_untouched`)."""
    if getattr(model, "compiled_loss", None) is None:
        raise RuntimeError(f"{where}: call model.compile(...) first; the compiled loss is used")
    xs, ys, sw = check_data(x, y, sample_weight, where)
    if ys is None:
        raise ValueError(f"{where}: y is required")
    model.zero_grad()
    y_pred = model.forward(unwrap(xs), training=training)
    loss, dy, _, _ = model._loss_and_grads(ys, y_pred, sw)
    model.backward(dy)
    return loss


class _untouched:
    """Context manager: on exit, put back every weight's ``.grad`` and every recurrent layer's
    ``record_state_grads`` and ``state_grads`` as they were on entry."""

    def __init__(self, model):
        self.weights = list(model.weights)
        self.recurrent = recurrent_layers(model)

    def __enter__(self):
        self.grads = [w.grad.copy() for w in self.weights]
        self.recorded = [(r.record_state_grads, r.state_grads) for r in self.recurrent]
        return self

    def __exit__(self, *exc):
        for w, g in zip(self.weights, self.grads):
            w.grad[...] = g
        for r, (flag, grads) in zip(self.recurrent, self.recorded):
            r.record_state_grads, r.state_grads = flag, grads
        return False


# ---- gradients through time ------------------------------------------------------------------
def state_gradients(model, x, y, layer=None, sample_weight=None, training=False):
    """``dLoss/dh_t`` of one recurrent layer for every sample and step.

    Args:
        model: a compiled Sequential or Model.
        x, y: one batch of inputs (B, T, ...) and targets, as for ``fit``.
        layer: which recurrent layer: None (the first one in ``model.layers``, the forward
            layer of a Bidirectional), its name, or the layer itself (a Bidirectional's
            ``backward_layer`` may be given to look at the other direction).
        sample_weight: optional (B,) weights for the loss, as for ``fit``.
        training: run the forward in training mode (dropout on; it draws from the layers'
            generators, so it changes which masks later training steps get). Default False.

    Returns:
        (B, T, H) array in input time order (also for ``go_backwards``): entry ``[b, t]`` is the
        total gradient of the compiled loss (a mean over the batch) with respect to the layer's
        hidden state after it read ``x[b, t]`` -- through the later steps and, with
        ``return_sequences``, through the output at t. Note the mean loss puts a factor 1/B in
        every sample's gradient. A layer called at several places reports its first call.
    """
    target = _find_layer(model, layer)
    with _untouched(model):
        target.record_state_grads, target.state_grads = True, None
        _backward_pass(model, x, y, sample_weight, training, "state_gradients")
        result = target.state_grads
    if result is None:
        raise RuntimeError(f"state_gradients: no gradient reached {target.name}; is its output "
                           f"used by the loss?")
    return result


def state_gradient_norms(model, x, y, layer=None, sample_weight=None, training=False):
    """``||dLoss/dh_t||`` for every step t, averaged over the batch: (T,) array.

    ``norms[t] = mean over b of sqrt(sum over units of (dL/dh_t[b])**2)``, in input time order,
    from one forward and one backward with the compiled loss (see :func:`state_gradients` for
    the arguments). Nothing in the model or its optimizer changes. For a SimpleRNN the values
    are a product of Jacobians (module docstring): on a log scale they fall roughly linearly
    from t = T back to t = 1 when gradients vanish and rise when they explode.

        >>> import numpy as np, rnnkit
        >>> from rnnkit import layers
        >>> from rnnkit.datasets import adding_problem
        >>> x, y = adding_problem(32, 100, seed=0)
        >>> m = rnnkit.Sequential([layers.Input((100, 2)), layers.SimpleRNN(8, seed=0),
        ...                        layers.Dense(1)])
        >>> _ = m.compile(optimizer="adam", loss="mse")
        >>> norms = state_gradient_norms(m, x, y)          # (100,)
        >>> bool(norms[0] < norms[-1])                     # far from the loss: smaller
        True
    """
    dh = state_gradients(model, x, y, layer, sample_weight, training)       # (B, T, H)
    return np.linalg.norm(dh.astype(np.float64), axis=-1).mean(axis=0)      # (T,)


# ---- gradient norms and clipping -------------------------------------------------------------
def _clip_settings(optimizer):
    return {k: getattr(optimizer, k, None) for k in ("clipnorm", "clipvalue", "global_clipnorm")}


def _describe_clipping(settings):
    on = [f"{k}={v}" for k, v in settings.items() if v]
    return on[0] if on else None


def gradient_norms(model, x, y, sample_weight=None, training=False):
    """The global gradient norm of one batch before and after the optimizer's clipping.

    Runs forward and backward with the compiled loss, then clips the gradients of the trainable
    weights exactly as ``model.optimizer`` would (:func:`rnnkit.training.optimizers.clip_gradients`
    with its ``clipnorm`` / ``clipvalue`` / ``global_clipnorm``), without applying any update::

        norm_before = sqrt(sum over weights w of ||dL/dw||**2)
        clipnorm c:          each g_w -> g_w * c / max(||g_w||, c)
        global_clipnorm c:   every g_w -> g_w * c / max(norm_before, c)
        clipvalue c:         each entry clipped to [-c, c]
        norm_after = the same global norm of the clipped gradients

    Args:
        model: a compiled Sequential or Model; x, y (and ``sample_weight``): one batch.
        training: forward in training mode (see :func:`state_gradients`).

    Returns:
        dict with ``loss`` (float), ``norm_before`` and ``norm_after`` (floats; inf or NaN when
        the gradient overflowed), ``clipping`` (e.g. ``"clipnorm=1.0"``, or None) and
        ``weight_norms`` (``{weight path: ||dL/dw||}`` before clipping).

        >>> import numpy as np, rnnkit
        >>> from rnnkit import layers, optimizers
        >>> x, y = np.ones((4, 3, 2)), np.zeros((4, 1))
        >>> m = rnnkit.Sequential([layers.Input((3, 2)), layers.SimpleRNN(2, seed=0),
        ...                        layers.Dense(1, kernel_initializer="ones",
        ...                                     bias_initializer="ones")])
        >>> _ = m.compile(optimizer=optimizers.SGD(global_clipnorm=0.5), loss="mse")
        >>> r = gradient_norms(m, x, y)
        >>> r["clipping"], round(r["norm_after"], 6), r["norm_before"] > 0.5
        ('global_clipnorm=0.5', 0.5, True)
    """
    if getattr(model, "optimizer", None) is None:
        raise RuntimeError("gradient_norms: call model.compile(...) first; its optimizer's "
                           "clipping is used")
    weights = [w for w in model.trainable_weights if w.trainable]
    with _untouched(model):
        loss = _backward_pass(model, x, y, sample_weight, training, "gradient_norms")
        grads = [w.grad.copy() for w in weights]
    settings = _clip_settings(model.optimizer)
    _, before, after = clip_gradients(grads, **settings)
    return {
        "loss": float(loss),
        "norm_before": float(before),
        "norm_after": float(after),
        "clipping": _describe_clipping(settings),
        "weight_norms": {w.path: global_norm([g]) for w, g in zip(weights, grads)},
    }


class GradientNormHistory(Callback):
    """Records the global gradient norm of every training batch, before and after clipping.

    At the end of each batch the weights' ``.grad`` still hold that batch's gradient (the
    optimizer never modifies them); this callback clips a copy as the optimizer did and stores
    the two norms. No extra forward or backward pass.

    Attributes (lists, one entry per batch): ``epochs`` (0-based), ``batches`` (index in the
    epoch), ``norm_before``, ``norm_after``, ``loss``.

        >>> import numpy as np, rnnkit
        >>> from rnnkit import layers, optimizers
        >>> m = rnnkit.Sequential([layers.Input((5, 1)), layers.SimpleRNN(3, seed=0),
        ...                        layers.Dense(1)])
        >>> _ = m.compile(optimizer=optimizers.SGD(clipnorm=0.1), loss="mse")
        >>> norms = GradientNormHistory()
        >>> _ = m.fit(np.ones((8, 5, 1)), np.ones((8, 1)), batch_size=4, epochs=2, verbose=0,
        ...           callbacks=[norms])
        >>> len(norms.norm_before), all(a <= b for a, b in zip(norms.norm_after, norms.norm_before))
        (4, True)
    """

    def __init__(self):
        super().__init__()
        self.epochs, self.batches, self.norm_before, self.norm_after, self.loss = [], [], [], [], []
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        weights = [w for w in self.model.trainable_weights if w.trainable]
        _, before, after = clip_gradients([w.grad for w in weights],
                                          **_clip_settings(self.model.optimizer))
        self.epochs.append(self._epoch)
        self.batches.append(batch)
        self.norm_before.append(float(before))
        self.norm_after.append(float(after))
        self.loss.append(float((logs or {}).get("loss", math.nan)))
