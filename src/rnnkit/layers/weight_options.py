"""Keras's per-weight arguments of a layer: ``kernel_regularizer``, ``bias_constraint``, ...

A layer class lists the weights Keras lets a user regularise or constrain
(``_regularizable = ("kernel", "bias")`` for Dense); for each such weight ``w`` it accepts
``w_regularizer`` and ``w_constraint`` (the recurrent kernel's are Keras's
``recurrent_regularizer`` / ``recurrent_constraint``). ``add_weight`` attaches them to the
:class:`~rnnkit.layers.weight.Weight`; training adds the penalties to the loss and applies the
constraints after each optimizer step. ``activity_regularizer`` (a penalty on the layer's
output) is accepted only as None: rnnkit does not implement it yet, and says so.
"""

from .. import constraints, regularizers

_ARG_NAME = {"recurrent_kernel": "recurrent"}      # Keras's argument prefix of a weight


def argument_names(regularizable):
    """The keyword arguments a layer with these regularisable weights accepts."""
    names = ["activity_regularizer"]
    for w in regularizable:
        prefix = _ARG_NAME.get(w, w)
        names += [f"{prefix}_regularizer", f"{prefix}_constraint"]
    return names


def parse(layer_name, regularizable, options):
    """``({weight name: regularizer}, {weight name: constraint})`` from the keyword arguments
    ``options`` (consumed); raises for an activity regularizer or a bad value."""
    if options.pop("activity_regularizer", None) is not None:
        raise ValueError(f"{layer_name}: activity_regularizer is not supported by rnnkit yet "
                         "(weight regularizers are: kernel_regularizer, ...)")
    regs, cons = {}, {}
    for w in regularizable:
        prefix = _ARG_NAME.get(w, w)
        try:
            reg = regularizers.get(options.pop(f"{prefix}_regularizer", None))
            con = constraints.get(options.pop(f"{prefix}_constraint", None))
        except ValueError as e:
            raise ValueError(f"{layer_name}: {e}") from None
        if reg is not None:
            regs[w] = reg
        if con is not None:
            cons[w] = con
    return regs, cons


def config(regs, cons):
    """The non-default arguments back as JSON-able config entries."""
    out = {}
    for w, reg in regs.items():
        out[f"{_ARG_NAME.get(w, w)}_regularizer"] = regularizers.serialize(reg)
    for w, con in cons.items():
        out[f"{_ARG_NAME.get(w, w)}_constraint"] = constraints.serialize(con)
    return out
