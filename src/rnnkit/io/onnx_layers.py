"""Per-layer converters from rnnkit layers to standard ONNX operators (used by onnx_export).

Each converter is ``convert(layer, g, x, shape) -> y``: ``g`` is the graph builder of
:mod:`rnnkit.io.onnx_export` (``g.op``, ``g.const``), ``x`` the name of the input tensor and
``shape`` its static rnnkit shape (None for the batch and any unknown size).

Recurrent layers become one ONNX ``RNN`` / ``LSTM`` / ``GRU`` node on time-major input:

| rnnkit (Keras)                      | ONNX                                                    |
|-------------------------------------|---------------------------------------------------------|
| kernel (I, G*H)                     | W (D, G*H, I)  (transposed)                             |
| recurrent_kernel (H, G*H)           | R (D, G*H, H)                                           |
| bias (G*H,)                         | B (D, 2*G*H) = [Wb; Rb] with Rb = 0                     |
| GRU bias (2, 3H), reset_after=True  | Wb = bias[0], Rb = bias[1]; linear_before_reset=1       |
| GRU bias (3H,), reset_after=False   | Wb = bias, Rb = 0; linear_before_reset=0                |
| LSTM gates i, f, c, o               | i, o, f, c  (blocks reordered)                          |
| GRU gates z, r, h                   | z, r, h  (same order, same h = z*h_prev + (1-z)*hh)     |
| go_backwards=True                   | direction="reverse"; Y flipped back to processing order |
| Bidirectional(merge_mode="concat")  | direction="bidirectional"; other merges with Add/Mul    |

Activations inside the cells: tanh, sigmoid, relu, linear (Affine 1, 0), hard_sigmoid
(Keras 3's ``clip(x/6 + 1/2, 0, 1)`` = HardSigmoid alpha=1/6 beta=0.5), softsign, softplus,
elu. Masks (Embedding(mask_zero=True), Masking) and stateful layers are refused: ONNX's
recurrent ops have no per-step mask and no state carried between calls.
"""

import math

import numpy as np

from .torch_layout import lstm_to_torch, simple_rnn_to_torch

INT64_MIN = -(2 ** 63)

# Keras activation name -> (ONNX RNN activation name, alphas, betas)
_CELL_ACTIVATIONS = {
    "tanh": ("Tanh", [], []), "sigmoid": ("Sigmoid", [], []), "relu": ("Relu", [], []),
    "linear": ("Affine", [1.0], [0.0]), "hard_sigmoid": ("HardSigmoid", [1.0 / 6.0], [0.5]),
    "softsign": ("Softsign", [], []), "softplus": ("Softplus", [], []), "elu": ("Elu", [1.0], []),
}
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def activation(layer, g, x, act):
    """``act(x)`` as graph ops (any rnnkit activation; softmax over the last axis)."""
    name = act.name
    simple = {"relu": "Relu", "tanh": "Tanh", "sigmoid": "Sigmoid", "softplus": "Softplus",
              "softsign": "Softsign"}
    if name == "linear":
        return x
    if name in simple:
        return g.op(simple[name], [x])
    if name == "hard_sigmoid":
        return g.op("HardSigmoid", [x], alpha=1.0 / 6.0, beta=0.5)
    if name == "elu":
        return g.op("Elu", [x], alpha=1.0)
    if name == "selu":
        return g.op("Selu", [x], alpha=_SELU_ALPHA, gamma=_SELU_SCALE)
    if name == "silu":
        return g.op("Mul", [x, g.op("Sigmoid", [x])])
    if name == "gelu":                                   # 0.5 x (1 + erf(x / sqrt 2))
        erf = g.op("Erf", [g.op("Mul", [x, g.const(1.0 / math.sqrt(2.0), "inv_sqrt2")])])
        half_x = g.op("Mul", [x, g.const(0.5, "half")])
        return g.op("Mul", [half_x, g.op("Add", [erf, g.const(1.0, "one")])])
    if name == "softmax":
        return g.op("Softmax", [x], axis=-1)
    raise NotImplementedError(f"{layer.name}: activation {name!r} has no ONNX export")


def _cell_activations(layer, acts):
    """ONNX ``activations`` / ``activation_alpha`` / ``activation_beta`` for one direction."""
    names, alphas, betas = [], [], []
    for act in acts:
        if act.name not in _CELL_ACTIVATIONS:
            raise NotImplementedError(
                f"{layer.name}: activation {act.name!r} inside a {type(layer).__name__} cell has "
                f"no ONNX equivalent; expected one of {sorted(_CELL_ACTIVATIONS)}")
        n, a, b = _CELL_ACTIVATIONS[act.name]
        names.append(n)
        alphas += a
        betas += b
    return names, alphas, betas


def _lstm_gates_to_onnx(a):
    """Reorder the four gate blocks along axis 0 from i, f, c, o to ONNX's i, o, f, c."""
    i, f, c, o = np.split(a, 4, axis=0)
    return np.concatenate([i, o, f, c], axis=0)


def _onnx_weights(layer):
    """(W (G*H, I), R (G*H, H), B (2*G*H,)) of one recurrent layer in ONNX layout."""
    ws = layer.get_weights()
    kernel, recurrent, bias = ws[0], ws[1], (ws[2] if len(ws) > 2 else None)
    kind = type(layer).__name__
    if kind == "LSTM":
        w, r, b_ih, b_hh = lstm_to_torch(kernel, recurrent, bias)   # same gates, transposed
        w, r = _lstm_gates_to_onnx(w), _lstm_gates_to_onnx(r)
        b_ih = None if b_ih is None else _lstm_gates_to_onnx(b_ih)
    elif kind == "GRU":                                  # same z, r, h order: only transposed
        w, r = kernel.T, recurrent.T
        b_ih, b_hh = (bias[0], bias[1]) if bias is not None and bias.ndim == 2 else (bias, None)
    else:
        w, r, b_ih, b_hh = simple_rnn_to_torch(kernel, recurrent, bias)
    G = w.shape[0]
    b_ih = np.zeros(G) if b_ih is None else b_ih
    b_hh = np.zeros(G) if b_hh is None else b_hh
    return w, r, np.concatenate([b_ih, b_hh])


def _check_recurrent(layer):
    kind = type(layer).__name__
    if kind not in ("SimpleRNN", "LSTM", "GRU"):
        raise NotImplementedError(f"{layer.name}: {kind} has no ONNX export "
                                  f"(recurrent layers: SimpleRNN, LSTM, GRU)")
    if layer.stateful:
        raise NotImplementedError(
            f"{layer.name}: stateful=True carries states from one call to the next; an ONNX "
            f"graph starts every call from zeros. Export a copy built with stateful=False")
    if layer.return_state:
        raise NotImplementedError(f"{layer.name}: return_state=True gives several outputs; "
                                  f"the exporter handles one output per layer")
    zoned = {n: getattr(layer, n) for n in getattr(layer, "zoneout_args", ()) if getattr(layer, n)}
    if zoned:
        raise NotImplementedError(f"{layer.name}: zoneout ({zoned}) has no ONNX equivalent "
                                  f"(ONNX's {kind} op has no zoneout); export a layer without it")
    acts = [layer.activation]
    if kind != "SimpleRNN":                              # gates first: ONNX's f, then g (, h)
        acts = [layer.recurrent_activation] + acts * (2 if kind == "LSTM" else 1)
    return kind, acts


def _rnn_node(g, layers, x_tm, directions):
    """One ONNX RNN/LSTM/GRU node over ``x_tm`` (T, B, I): returns (Y, Y_h) names."""
    kind, _ = _check_recurrent(layers[0])
    names, alphas, betas = [], [], []
    for layer in layers:
        n, a, b = _cell_activations(layer, _check_recurrent(layer)[1])
        names, alphas, betas = names + n, alphas + a, betas + b
    weights = [_onnx_weights(layer) for layer in layers]
    W, R, B = (np.stack([w[k] for w in weights]) for k in range(3))
    attrs = {"hidden_size": layers[0].units, "direction": directions, "activations": names}
    if alphas:
        attrs["activation_alpha"] = alphas
    if betas:
        attrs["activation_beta"] = betas
    if kind == "GRU":
        attrs["linear_before_reset"] = int(layers[0].reset_after)
    op = {"SimpleRNN": "RNN"}.get(kind, kind)
    inputs = [x_tm, g.const(W, layers[0].name + "_W"), g.const(R, layers[0].name + "_R"),
              g.const(B, layers[0].name + "_B")]
    outs = g.op(op, inputs, n_out=3 if kind == "LSTM" else 2, hint=layers[0].name, **attrs)
    return outs[0], outs[1]


def recurrent(layer, g, x, shape):
    """SimpleRNN / LSTM / GRU: (B, T, I) -> (B, H), or (B, T, H) with return_sequences."""
    x_tm = g.op("Transpose", [x], perm=[1, 0, 2])                       # (T, B, I)
    y, y_h = _rnn_node(g, [layer], x_tm, "reverse" if layer.go_backwards else "forward")
    if not layer.return_sequences:
        return g.op("Squeeze", [y_h, g.const(np.array([0]), "axes0")])  # (1, B, H) -> (B, H)
    y = g.op("Squeeze", [y, g.const(np.array([1]), "axes1")])           # (T, B, H)
    if layer.go_backwards:               # ONNX gives input order; Keras keeps processing order
        y = g.op("Slice", [y, g.const(np.array([-1]), "start_last"),
                           g.const(np.array([INT64_MIN]), "end_first"),
                           g.const(np.array([0]), "axes0"), g.const(np.array([-1]), "step_back")])
    return g.op("Transpose", [y], perm=[1, 0, 2])                       # (B, T, H)


def bidirectional(layer, g, x, shape):
    """Bidirectional: one direction="bidirectional" node, then the merge (concat/sum/ave/mul)."""
    fwd, bwd = layer.forward_layer, layer.backward_layer
    if fwd.go_backwards or type(fwd) is not type(bwd) or fwd.units != bwd.units or \
            getattr(fwd, "reset_after", None) != getattr(bwd, "reset_after", None):
        raise NotImplementedError(
            f"{layer.name}: ONNX's bidirectional ops need the same cell kind, units and "
            f"reset_after in both directions with the backward one reversed; got {fwd.name} "
            f"({type(fwd).__name__}, {fwd.units}) and {bwd.name} ({type(bwd).__name__}, "
            f"{bwd.units})")
    if layer.merge_mode is None:
        raise NotImplementedError(f"{layer.name}: merge_mode=None gives two outputs; the "
                                  f"exporter handles one output per layer")
    x_tm = g.op("Transpose", [x], perm=[1, 0, 2])
    y, y_h = _rnn_node(g, [fwd, bwd], x_tm, "bidirectional")  # Y (T, 2, B, H), Y_h (2, B, H)
    seq = layer.return_sequences
    out = y if seq else y_h
    if layer.merge_mode == "concat":
        if seq:                                       # (T, 2, B, H) -> (B, T, 2, H) -> (B, T, 2H)
            out = g.op("Transpose", [out], perm=[2, 0, 1, 3])
            return g.op("Reshape", [out, g.const(np.array([0, 0, -1]), "shape_bt_")])
        out = g.op("Transpose", [out], perm=[1, 0, 2])              # (B, 2, H) -> (B, 2H)
        return g.op("Reshape", [out, g.const(np.array([0, -1]), "shape_b_")])
    axis = 1 if seq else 0
    y_f = g.op("Gather", [out, g.const(np.array(0), "index0")], axis=axis)
    y_b = g.op("Gather", [out, g.const(np.array(1), "index1")], axis=axis)
    merged = g.op("Mul" if layer.merge_mode == "mul" else "Add", [y_f, y_b])
    if layer.merge_mode == "ave":
        merged = g.op("Mul", [merged, g.const(0.5, "half")])
    return g.op("Transpose", [merged], perm=[1, 0, 2]) if seq else merged


def dense(layer, g, x, shape):
    """Dense on the last axis of any rank: MatMul (+ Add bias), then the activation."""
    y = g.op("MatMul", [x, g.const(layer.kernel.value, layer.name + "_kernel")])
    if layer.bias is not None:
        y = g.op("Add", [y, g.const(layer.bias.value, layer.name + "_bias")])
    return activation(layer, g, y, layer.activation)


def embedding(layer, g, x, shape):
    """Embedding: Gather rows of the (V, D) table by int64 ids (B, T) -> (B, T, D)."""
    if layer.mask_zero:
        raise NotImplementedError(
            f"{layer.name}: mask_zero=True makes later layers skip padded (id 0) steps, and "
            f"ONNX's recurrent ops have no step mask, so padded inputs would give different "
            f"results. Export a copy with mask_zero=False (same weights) for unpadded inputs")
    return g.op("Gather", [g.const(layer.embeddings.value, layer.name + "_embeddings"), x],
                axis=0)


def time_distributed(layer, g, x, shape):
    """TimeDistributed(Dense / Activation / Dropout): the inner ops broadcast over time."""
    inner = layer.layer
    if type(inner).__name__ not in ("Dense", "Activation", "Dropout"):
        raise NotImplementedError(f"{layer.name}: TimeDistributed({type(inner).__name__}) has "
                                  f"no ONNX export (inner layers: Dense, Activation, Dropout)")
    return CONVERTERS[type(inner).__name__](inner, g, x, shape)


def flatten(layer, g, x, shape):
    """Flatten: (B, ...) -> (B, prod(...)), channels moved last first for channels_first."""
    if layer.data_format == "channels_first" and len(shape) >= 3:
        x = g.op("Transpose", [x], perm=[0] + list(range(2, len(shape))) + [1])
    return g.op("Flatten", [x], axis=1)


def repeat_vector(layer, g, x, shape):
    """RepeatVector(n): (B, F) -> (B, n, F)."""
    x = g.op("Unsqueeze", [x, g.const(np.array([1]), "axes1")])
    return g.op("Tile", [x, g.const(np.array([1, layer.n, 1]), layer.name + "_repeats")])


def _refuse_masking(layer, g, x, shape):
    raise NotImplementedError(
        f"{layer.name}: Masking makes recurrent layers skip masked steps, and ONNX's recurrent "
        f"ops have no step mask; remove it to export (only right for unpadded inputs)")


def _refuse_scan_layers(layer, g, x, shape):
    raise NotImplementedError(
        f"{layer.name}: {type(layer).__name__} has no ONNX export yet (ONNX's RNN/LSTM/GRU ops "
        f"do not express it; it would need a Scan or Loop subgraph); export is supported for "
        f"SimpleRNN, LSTM and GRU")


CONVERTERS = {
    "SimpleRNN": recurrent, "LSTM": recurrent, "GRU": recurrent,
    "Bidirectional": bidirectional, "Dense": dense, "Embedding": embedding,
    "TimeDistributed": time_distributed, "Flatten": flatten, "RepeatVector": repeat_vector,
    "Activation": lambda layer, g, x, shape: activation(layer, g, x, layer.activation),
    "Dropout": lambda layer, g, x, shape: x,             # identity at inference
    "Masking": _refuse_masking,
}
CONVERTERS.update(dict.fromkeys(("MinGRU", "MinLSTM", "LayerNormLSTM", "ResidualBlock"),
                                _refuse_scan_layers))    # issue 16: a clear refusal for now
