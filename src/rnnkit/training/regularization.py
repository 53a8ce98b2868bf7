"""Weight regularizers and constraints in a training step (see :mod:`rnnkit.regularizers`,
:mod:`rnnkit.constraints`).

After the backward pass, every trainable weight ``W`` with a regularizer ``R`` adds ``R(W)`` to
the step's loss and ``dR/dW`` to ``W.grad``; after the optimizer step, every weight with a
constraint is projected: ``W <- constraint(W)``. Keras 3 does the same (its ``compute_loss``
adds ``model.losses``, and optimizers apply variable constraints after each update).
"""


def penalties(weights):
    """``[R(W)]`` of the weights that have a regularizer (Keras's ``model.losses``)."""
    return [w.regularizer(w.value) for w in weights if getattr(w, "regularizer", None)]


def add_penalty_gradients(weights):
    """Add ``dR/dW`` into each regularised weight's ``.grad``; returns the sum of ``R(W)``."""
    total = 0.0
    for w in weights:
        reg = getattr(w, "regularizer", None)
        if reg is not None:
            total += reg(w.value)
            w.grad += reg.gradient(w.value).astype(w.grad.dtype, copy=False)
    return total


def apply_constraints(weights):
    """``W <- constraint(W)`` for each weight that has one."""
    for w in weights:
        con = getattr(w, "constraint", None)
        if con is not None:
            w.value[...] = con(w.value)
