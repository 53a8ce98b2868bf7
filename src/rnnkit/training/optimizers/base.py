"""The optimizer base: clipping, weight decay, lazy slots, the step counter, state and config.

One training step, in Keras 3's order (``BaseOptimizer.apply``)::

    grads = clip(grads)                        # clipnorm | global_clipnorm | clipvalue
    w    -= w * weight_decay * lr              # decoupled decay, only if weight_decay is set
    update_step(grad, w, lr)                   # the optimizer's own rule, slots updated in place
    iterations += 1

Each subclass names its slots (``{"momentum": 0.0, ...}``: name and initial value) and writes
``update_step``. Slots are created on first use, one array per slot and weight, with the
weight's shape and dtype, and are keyed by the weight's ``path`` (so ``set_state`` can restore
them into a freshly built model). The ``.grad`` arrays are never modified.

No array is allocated per step: clipping, decay and every update rule write their
intermediate results into scratch arrays the optimizer keeps (``_scratch``: a few flat buffers
per dtype, as long as the largest weight, viewed with each weight's shape), with in-place
ufuncs (``out=``). Each operation is the one of the plain formula, in the same order and the
same precision, so the updates are bit for bit those of the formulas below.

    >>> import numpy as np
    >>> from rnnkit.layers.weight import Weight
    >>> from rnnkit.training.optimizers import SGD
    >>> w = Weight(np.array([1.0, 2.0]), "w", path="dense/w")
    >>> w.grad[...] = [0.5, -0.5]
    >>> opt = SGD(learning_rate=0.1)
    >>> _ = opt.apply([w]); w.value.tolist(), opt.iterations
    ([0.95, 2.05], 1)
"""

import math
import re
import warnings

import numpy as np

# Keras 3 arguments rnnkit does not implement; accepted at their defaults so Keras configs load.
_KERAS_DEFAULTS = {"use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": None,
                   "loss_scale_factor": None, "gradient_accumulation_steps": None}


def _check_clip_args(clipnorm, clipvalue, global_clipnorm):
    given = sum(a is not None for a in (clipnorm, clipvalue, global_clipnorm))
    if given > 1:
        raise ValueError(f"Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. "
                         f"Received: clipnorm={clipnorm}, clipvalue={clipvalue}, "
                         f"global_clipnorm={global_clipnorm}")
    for key, value in (("clipnorm", clipnorm), ("clipvalue", clipvalue),
                       ("global_clipnorm", global_clipnorm)):
        if value is not None and not value >= 0:
            raise ValueError(f"`{key}` must be >= 0, got {value}")


def global_norm(grads):
    """``sqrt(sum of squares)`` over all arrays (``None`` skipped), in float64."""
    return math.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64)))
                         for g in grads if g is not None))


def _clip_scale(norm, limit):
    """``limit / max(norm, limit)`` (a NumPy float64, as Keras's ``clip_by_norm``)."""
    return limit / np.maximum(norm, limit)


def clip_gradients(grads, clipnorm=None, clipvalue=None, global_clipnorm=None):
    """Clip gradients as Keras 3 does; returns ``(clipped, norm_before, norm_after)``.

    ``clipnorm``: each array ``g * clipnorm / max(|g|, clipnorm)``; ``global_clipnorm``: all
    arrays scaled by ``global_clipnorm / max(global_norm, global_clipnorm)`` (a NaN scale when
    the norm is not finite, as Keras); ``clipvalue``: ``clip(g, -clipvalue, clipvalue)``.
    At most one may be set; 0 or None means off. ``norm_before`` and ``norm_after`` are the
    global norms of all gradients (``None`` entries kept as they are). The inputs are untouched.

        >>> import numpy as np
        >>> clipped, before, after = clip_gradients([np.array([3.0, 4.0])], global_clipnorm=1.0)
        >>> clipped[0].tolist(), before, after
        ([0.6000000000000001, 0.8], 5.0, 1.0)
    """
    _check_clip_args(clipnorm, clipvalue, global_clipnorm)
    grads = list(grads)
    before = global_norm(grads)
    if clipnorm:
        clipped = [None if g is None else g * _clip_scale(global_norm([g]), clipnorm)
                   for g in grads]
    elif global_clipnorm:
        scale = _clip_scale(before, global_clipnorm)
        if not math.isfinite(before):
            scale = math.nan                                     # Keras: scale + (norm - norm)
        clipped = [None if g is None else g * scale for g in grads]
    elif clipvalue:
        clipped = [None if g is None else np.clip(g, -clipvalue, clipvalue) for g in grads]
    else:
        return grads, before, before
    clipped = [c if g is None else c.astype(g.dtype, copy=False) for c, g in zip(clipped, grads)]
    return clipped, before, global_norm(clipped)


class Optimizer:
    """Base class. Subclasses set ``slot_names`` via ``_slot_inits`` and write ``update_step``.

    Args:
        learning_rate: a float, or a callable taking no arguments that returns it (Keras's
            callable form); readable and assignable as ``opt.learning_rate``.
        weight_decay: if set, ``w -= w * weight_decay * lr`` before every update (decoupled).
        clipnorm, clipvalue, global_clipnorm: gradient clipping (at most one; see
            :func:`clip_gradients`).
        name: the optimizer's name.
    """

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, name=None, **kwargs):
        for key, value in kwargs.items():
            if key not in _KERAS_DEFAULTS:
                raise ValueError(f"Argument(s) not recognized: {{{key!r}: {value!r}}}")
            if value != _KERAS_DEFAULTS[key]:
                raise NotImplementedError(f"{name}: `{key}={value!r}` is a Keras option rnnkit "
                                          f"does not implement")
        _check_clip_args(clipnorm, clipvalue, global_clipnorm)
        self.name = name or type(self).__name__.lower()
        self.weight_decay = weight_decay
        self.clipnorm = clipnorm
        self.clipvalue = clipvalue
        self.global_clipnorm = global_clipnorm
        self.learning_rate = learning_rate
        self._iterations = 0
        self._slots = {}                  # weight path -> {slot name: array}
        self._scratch_buffers = {}        # (dtype, k) -> flat array (see _scratch)
        self._exclude_ids = set()
        self._exclude_pattern = None

    # ---- learning rate and step counter --------------------------------------------------
    @property
    def learning_rate(self):
        """The current learning rate (a callable learning rate is called with no arguments)."""
        lr = self._learning_rate
        return float(lr()) if callable(lr) else lr

    @learning_rate.setter
    def learning_rate(self, value):
        if not callable(value):
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer,
                                                                 np.floating)):
                raise ValueError(f"{self.name}: learning_rate should be a float or a callable, "
                                 f"got {value!r}")
            value = float(value)
            if not (math.isfinite(value) and value >= 0):      # NaN, inf, -1: refused
                raise ValueError(f"{self.name}: learning_rate must be a finite number >= 0, "
                                 f"got {value!r}")
        self._learning_rate = value

    @property
    def iterations(self):
        """How many updates were applied so far."""
        return self._iterations

    # ---- what a subclass provides --------------------------------------------------------
    def _slot_inits(self):
        """``{slot name: initial value}`` for every weight (Keras's variable names)."""
        return {}

    def update_step(self, grad, value, lr, slots):
        """Update ``value`` (the weight's array) and ``slots`` in place from ``grad``."""
        raise NotImplementedError

    # ---- applying gradients --------------------------------------------------------------
    def apply(self, weights):
        """One step on every trainable :class:`Weight` in ``weights`` from its ``.grad``.

        ``weights`` may also be a layer or model (its ``trainable_weights`` are used).
        """
        weights = getattr(weights, "trainable_weights", weights)
        weights = [w for w in weights if w.trainable]
        return self.apply_gradients([(w.grad, w) for w in weights])

    def apply_gradients(self, grads_and_weights):
        """One step from ``[(grad, weight), ...]`` (Keras's form); returns ``iterations``."""
        pairs = list(grads_and_weights)
        if not pairs:
            return self._iterations
        missing = [w.path for g, w in pairs if g is None]
        pairs = [(g, w) for g, w in pairs if g is not None]
        if not pairs:
            raise ValueError("No gradients provided for any variable.")
        if missing:
            warnings.warn(f"Gradients do not exist for variables {missing} when minimizing the "
                          f"loss.", stacklevel=2)
        seen = {}
        for g, w in pairs:
            if seen.setdefault(w.path, w) is not w:
                raise ValueError(f"{self.name}: two different weights share the path "
                                 f"{w.path!r}; optimizer slots are keyed by path")
            if np.shape(g) != w.shape:
                raise ValueError(f"{self.name}: gradient of shape {np.shape(g)} for weight "
                                 f"{w.path} of shape {w.shape}")
        scales = self._clip_scales([g for g, _ in pairs])
        lr = self.learning_rate
        for (g, w), scale in zip(pairs, scales):
            g = self._clipped(g, w, scale)                  # scratch 0 when clipped
            if self.weight_decay is not None and self._use_weight_decay(w):
                # w -= w * weight_decay * lr
                decay = np.multiply(w.value, float(self.weight_decay), out=self._scratch(w, 1))
                decay *= lr
                w.value -= decay
            g = np.asarray(g).astype(w.dtype, copy=False)
            self.update_step(g, w.value, lr, self._slots_for(w))
        self._iterations += 1
        return self._iterations

    # ---- clipping without new arrays (the same numbers as clip_gradients) ----------------
    def _clip_scales(self, grads):
        """Per gradient: the norm-clipping factor, or None (no norm clipping)."""
        if self.clipnorm:
            return [_clip_scale(math.sqrt(self._sum_of_squares(g)), self.clipnorm)
                    for g in grads]
        if self.global_clipnorm:
            before = math.sqrt(sum(self._sum_of_squares(g) for g in grads))
            scale = _clip_scale(before, self.global_clipnorm)
            if not math.isfinite(before):
                scale = math.nan                             # Keras: scale + (norm - norm)
            return [scale] * len(grads)
        return [None] * len(grads)

    def _sum_of_squares(self, g):
        """``global_norm([g]) ** 2`` (the same sum) through a float64 scratch array."""
        return float(np.sum(np.square(g, dtype=np.float64, out=self._scratch(g, 0, np.float64))))

    def _clipped(self, g, w, scale):
        """``g`` clipped as :func:`clip_gradients` would, in scratch 0 (``g`` is not touched)."""
        if scale is not None:
            # (g * scale).astype(g.dtype): the product in float64, then rounded
            return np.multiply(g, scale, out=self._scratch(w, 0, np.result_type(g)))
        if self.clipvalue:
            return np.clip(g, -self.clipvalue, self.clipvalue,
                           out=self._scratch(w, 0, np.result_type(g)))
        return g

    def _scratch(self, like, k, dtype=None):
        """Scratch array ``k`` with the shape of ``like`` (an array or a Weight) and its dtype
        (or ``dtype``): a view of a flat buffer kept between steps. Index 0 holds the clipped
        gradient during a step, 1 the decay; ``update_step`` may use 1, 2, ... freely."""
        shape = np.shape(like) if not hasattr(like, "value") else like.shape
        dtype = np.dtype(dtype or like.dtype)
        n = math.prod(shape)
        flat = self._scratch_buffers.get((dtype, k))
        if flat is None or flat.size < n:
            flat = self._scratch_buffers[dtype, k] = np.empty(n, dtype)
        return flat[:n].reshape(shape)

    def _slots_for(self, w):
        slots = self._slots.get(w.path)
        if slots is None:
            slots = {name: np.full(w.shape, init, dtype=w.dtype)
                     for name, init in self._slot_inits().items()}
            self._slots[w.path] = slots
            return slots
        for name, s in slots.items():
            if s.shape != w.shape:
                raise ValueError(f"{self.name}: slot {w.path}/{name} has shape {s.shape}, but "
                                 f"the weight has shape {w.shape}")
            if s.dtype != w.dtype:
                slots[name] = s.astype(w.dtype)
        return slots

    # ---- weight decay exclusions (Keras's exclude_from_weight_decay) ----------------------
    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        """Skip decay for these weights, or for weights whose name contains one of ``var_names``."""
        self._exclude_ids = {id(w) for w in (var_list or [])}
        self._exclude_pattern = (re.compile("|".join(map(re.escape, var_names)))
                                 if var_names else None)

    def _use_weight_decay(self, w):
        if id(w) in self._exclude_ids:
            return False
        return not (self._exclude_pattern and self._exclude_pattern.search(w.name))

    # ---- checkpointing ---------------------------------------------------------------------
    def get_state(self):
        """A flat ``{name: np.ndarray}``: ``"iterations"``, ``"learning_rate"`` (when it is a
        float) and one ``"<weight path>/<slot>"`` entry per slot (copies)."""
        state = {"iterations": np.array(self._iterations, dtype=np.int64)}
        if not callable(self._learning_rate):
            state["learning_rate"] = np.array(self._learning_rate, dtype=np.float64)
        for path, slots in self._slots.items():
            for name, array in slots.items():
                state[f"{path}/{name}"] = array.copy()
        return state

    def set_state(self, state):
        """Restore what ``get_state`` returned; training then continues identically."""
        names = set(self._slot_inits())
        slots = {}
        for key, array in state.items():
            if key in ("iterations", "learning_rate"):
                continue
            path, _, name = key.rpartition("/")
            if not path or name not in names:
                raise ValueError(f"{self.name}: unknown state entry {key!r} (slots of this "
                                 f"optimizer: {sorted(names)})")
            slots.setdefault(path, {})[name] = np.array(array, copy=True)
        for path, found in slots.items():
            if set(found) != names:
                raise ValueError(f"{self.name}: state for {path!r} has slots {sorted(found)}, "
                                 f"expected {sorted(names)}")
        if "iterations" not in state:
            raise ValueError(f"{self.name}: state has no 'iterations' entry")
        it = np.asarray(state["iterations"])
        if it.shape != () or it.dtype.kind not in "iu" or int(it) < 0:
            raise ValueError(f"{self.name}: 'iterations' must be a non-negative integer, got "
                             f"{it!r}")
        self._iterations = int(it)
        if "learning_rate" in state and not callable(self._learning_rate):
            self.learning_rate = float(state["learning_rate"])
        self._slots = slots

    # ---- config ----------------------------------------------------------------------------
    def get_config(self):
        """The constructor arguments (a callable learning rate is returned as it is)."""
        return {"name": self.name, "learning_rate": self._learning_rate,
                "weight_decay": self.weight_decay, "clipnorm": self.clipnorm,
                "global_clipnorm": self.global_clipnorm, "clipvalue": self.clipvalue}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} {self.name} lr={self.learning_rate} it={self.iterations}>"
