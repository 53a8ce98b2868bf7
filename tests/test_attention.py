"""Attention (Luong: dot / concat) and AdditiveAttention (Bahdanau).

Parity with a PyTorch autograd reference written below from Keras 3's formulas (float64, scale
weights random and far from their initial values), finite differences for every option, a hand
computed golden value, a seq2seq functional model (gradient check, config round trip, fit), and
bad input.
"""

import json

import numpy as np
import pytest
import torch

from gradcheck import assert_close, numeric_grad
from rnnkit.io.saving import load_model
from rnnkit.layers.additive_attention import AdditiveAttention
from rnnkit.layers.attention import Attention
from rnnkit.layers.dense import Dense
from rnnkit.layers.input_layer import Input
from rnnkit.layers.lstm import LSTM
from rnnkit.layers.masking import Masking
from rnnkit.layers.merge import Concatenate
from rnnkit.layers.registry import deserialize, serialize
from rnnkit.models import Model

B, TQ, TV, D, DV = 3, 4, 5, 3, 2

# (id, factory, score kind for the reference)
LAYERS = [
    ("dot", lambda **kw: Attention(**kw), "dot"),
    ("dot-scaled", lambda **kw: Attention(use_scale=True, **kw), "dot"),
    ("concat", lambda **kw: Attention(score_mode="concat", **kw), "concat"),
    ("concat-scaled", lambda **kw: Attention(use_scale=True, score_mode="concat", **kw), "concat"),
    ("additive", lambda **kw: AdditiveAttention(**kw), "additive"),
    ("additive-unscaled", lambda **kw: AdditiveAttention(use_scale=False, **kw), "additive"),
]
LAYER_IDS = [c[0] for c in LAYERS]


def make_inputs(has_key, seed=0):
    """Query (B, Tq, D), value (B, Tv, Dv or D), and a key (B, Tv, D) when ``has_key``."""
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((B, TQ, D))
    if has_key:
        return [q, rng.standard_normal((B, TV, DV)), rng.standard_normal((B, TV, D))]
    return [q, rng.standard_normal((B, TV, D))]


def make_masks(which):
    """None, or [query_mask, value_mask] with some False; value step 0 always kept."""
    if which == "none":
        return None
    q_mask = np.array([[1, 1, 1, 1], [1, 1, 0, 0], [1, 0, 1, 1]], dtype=bool)
    v_mask = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 1, 0, 1]], dtype=bool)
    return {"value": [None, v_mask], "query": [q_mask, None], "both": [q_mask, v_mask]}[which]


def built(factory, xs, **kw):
    """A layer built for ``xs`` with every weight random (scales far from 1)."""
    layer = factory(**kw)
    layer.build([x.shape for x in xs])
    rng = np.random.default_rng(50)
    layer.set_weights([rng.uniform(0.4, 1.6, w.shape) * rng.choice([-1, 1], w.shape)
                       for w in layer.weights])
    return layer


# ---- the PyTorch reference (Keras 3's attention.py / additive_attention.py) -------------------
def torch_attention(kind, q, v, k=None, scale=None, csw=None, q_mask=None, v_mask=None,
                    causal=False, drop=None):
    """(out, scores) from torch tensors; ``drop`` is the scaled keep mask (B, Tq, Tv) or None."""
    k = v if k is None else k
    if kind == "dot":
        s = q @ k.transpose(1, 2)
        if scale is not None:
            s = s * scale
    else:
        u = q.unsqueeze(2) + k.unsqueeze(1)                       # (B, Tq, Tv, D)
        if kind == "concat":
            s = csw * torch.tanh(u * scale if scale is not None else u).sum(-1)
        else:
            t = torch.tanh(u)
            s = (t * scale).sum(-1) if scale is not None else t.sum(-1)
    Tq, Tv = s.shape[1], s.shape[2]
    keep = None
    if causal:
        keep = torch.ones(1, Tq, Tv, dtype=torch.bool).tril()
    if v_mask is not None:
        vm = torch.as_tensor(v_mask)[:, None, :]
        keep = vm if keep is None else keep & vm
    if keep is not None:
        s = s - 1e9 * (~keep).double()
    a = torch.softmax(s, dim=-1)
    if drop is not None:
        a = a * torch.as_tensor(drop)
    out = a @ v
    if q_mask is not None:
        out = out * torch.as_tensor(q_mask)[..., None].double()
    return out, a


def reference(layer, kind, xs, mask=None, causal=False, drop=None, seed=0):
    """Outputs, scores and every gradient of L = sum(g_out*out) + sum(g_a*a) from torch."""
    leaves = [torch.tensor(x, requires_grad=True) for x in xs]
    w = {wt.name: torch.tensor(wt.value, requires_grad=True) for wt in layer.weights}
    q_mask, v_mask = mask if mask is not None else (None, None)
    out, a = torch_attention(kind, leaves[0], leaves[1], leaves[2] if len(xs) == 3 else None,
                             w.get("scale"), w.get("concat_score_weight"), q_mask, v_mask,
                             causal, drop)
    rng = np.random.default_rng(seed + 99)
    g_out, g_a = rng.standard_normal(out.shape), rng.standard_normal(a.shape)
    ((out * torch.tensor(g_out)).sum() + (a * torch.tensor(g_a)).sum()).backward()
    return (out.detach().numpy(), a.detach().numpy(), g_out, g_a,
            [t.grad.numpy() for t in leaves], {n: t.grad.numpy() for n, t in w.items()})


def compare_with_torch(layer, kind, xs, mask=None, causal=False, training=False, drop=None):
    out_ref, a_ref, g_out, g_a, dxs_ref, dw_ref = reference(layer, kind, xs, mask, causal, drop)
    out, a = layer(xs, mask=mask, training=training, return_attention_scores=True,
                   use_causal_mask=causal)
    assert_close(out, out_ref, what=f"{layer.name} output")
    assert_close(a, a_ref, what=f"{layer.name} attention scores")
    layer.zero_grad()
    dxs = layer.backward([g_out, g_a])
    assert isinstance(dxs, list) and len(dxs) == len(xs)
    for name, g, g_ref in zip(("dq", "dv", "dk"), dxs, dxs_ref):
        assert_close(g, g_ref, what=f"{layer.name} {name}")
    for wt in layer.weights:
        assert_close(wt.grad, dw_ref[wt.name], what=f"{layer.name} d{wt.name}")


@pytest.mark.parametrize("causal", [False, True], ids=["", "causal"])
@pytest.mark.parametrize("masks", ["none", "value", "query", "both"])
@pytest.mark.parametrize("has_key", [False, True], ids=["qv", "qvk"])
@pytest.mark.parametrize("_id, factory, kind", LAYERS, ids=LAYER_IDS)
def test_parity_with_torch(float64, _id, factory, kind, has_key, masks, causal):
    xs = make_inputs(has_key)
    layer = built(factory, xs)
    compare_with_torch(layer, kind, xs, make_masks(masks), causal)


@pytest.mark.parametrize("_id, factory, kind", LAYERS, ids=LAYER_IDS)
def test_parity_with_torch_dropout(float64, _id, factory, kind):
    xs = make_inputs(True, seed=3)
    layer = built(factory, xs, dropout=0.3, seed=7)
    keep = np.random.default_rng(7).random((B, TQ, TV)) >= 0.3    # the layer's first draw
    compare_with_torch(layer, kind, xs, make_masks("both"), causal=True, training=True,
                       drop=keep / 0.7)


def test_dot_output_matches_torch_scaled_dot_product_attention(float64):
    """An independent check of the dot path: torch's own fused attention with a boolean mask."""
    xs = make_inputs(True, seed=4)
    layer = built(LAYERS[1][1], xs)
    v_mask = make_masks("value")[1]
    out = layer(xs, mask=[None, v_mask], use_causal_mask=True)
    keep = torch.ones(TQ, TV, dtype=torch.bool).tril() & torch.as_tensor(v_mask)[:, None, :]
    ref = torch.nn.functional.scaled_dot_product_attention(
        torch.tensor(xs[0]), torch.tensor(xs[2]), torch.tensor(xs[1]), attn_mask=keep,
        scale=float(layer.scale.value))
    assert_close(out, ref.numpy(), what="vs scaled_dot_product_attention")


# ---- finite differences ---------------------------------------------------------------------
def check_attention_gradients(layer, xs, reset=lambda: None, seed=0, **call):
    """backward against central differences of L = sum(w1*out) + sum(w2*scores), all inputs."""
    rng = np.random.default_rng(seed + 10)
    reset()
    out, a = layer.forward(xs, return_attention_scores=True, **call)
    w_out, w_a = rng.standard_normal(out.shape), rng.standard_normal(a.shape)

    def loss():
        reset()
        o, s = layer.forward(xs, return_attention_scores=True, **call)
        return float(np.sum(w_out * o) + np.sum(w_a * s))

    loss()
    layer.zero_grad()
    grads = layer.backward([w_out, w_a])
    for wt in layer.weights:
        assert_close(wt.grad, numeric_grad(loss, wt.value), what=f"{layer.name} d{wt.name}")
    for name, g, x in zip(("query", "value", "key"), grads, xs):
        assert_close(g, numeric_grad(loss, x), what=f"{layer.name} d{name}")
    # only the output's gradient (dscores None), as a model gives when scores feed nothing
    loss_out = lambda: (reset(), float(np.sum(w_out * layer.forward(xs, **call))))[1]  # noqa
    loss_out()
    only = layer.backward(w_out)
    assert_close(only[0], numeric_grad(loss_out, xs[0]), what=f"{layer.name} dquery (out only)")


@pytest.mark.parametrize("options", ["plain", "masks", "causal+masks", "dropout"])
@pytest.mark.parametrize("has_key", [False, True], ids=["qv", "qvk"])
@pytest.mark.parametrize("_id, factory, kind", LAYERS, ids=LAYER_IDS)
def test_finite_differences(float64, _id, factory, kind, has_key, options):
    xs = make_inputs(has_key, seed=5)
    kw = {"dropout": 0.25, "seed": 3} if options == "dropout" else {}
    layer = built(factory, xs, **kw)
    call = {"mask": make_masks("both") if "masks" in options else None,
            "use_causal_mask": options.startswith("causal"), "training": options == "dropout"}

    def reset():
        if layer.dropout:
            layer.generator = np.random.default_rng(3)

    check_attention_gradients(layer, xs, reset, **call)


# ---- behaviour ------------------------------------------------------------------------------
def test_golden_value_without_torch(float64):
    """q = [1, 0], keys e1, e2: scores [1, 0], weights [e, 1] / (e + 1), output = weights."""
    q = np.array([[[1.0, 0.0]]])
    v = np.array([[[1.0, 0.0], [0.0, 1.0]]])
    out, a = Attention()([q, v], return_attention_scores=True)
    e = np.e
    assert_close(a, [[[e / (e + 1), 1 / (e + 1)]]])
    assert_close(out, [[[e / (e + 1), 1 / (e + 1)]]])
    # additive without scale: s_j = tanh(1 + 1) + tanh(0 + 0) for j = 0, 2 tanh(1) for j = 1
    _, a = AdditiveAttention(use_scale=False)([q, v], return_attention_scores=True)
    s = np.array([np.tanh(2.0), 2 * np.tanh(1.0)])
    assert_close(a[0, 0], np.exp(s) / np.exp(s).sum())


def test_masks_exclude_values_and_zero_padded_queries(float64):
    xs = make_inputs(True, seed=6)
    layer = built(LAYERS[0][1], xs)
    q_mask, v_mask = make_masks("both")
    out, a = layer(xs, mask=[q_mask, v_mask], return_attention_scores=True)
    assert np.all(a[~np.broadcast_to(v_mask[:, None, :], a.shape)] == 0)
    assert np.all(out[~q_mask] == 0)
    # the same as attending over only the kept value steps
    b = 1
    kept = v_mask[b]
    ref = layer([xs[0][b:b + 1], xs[1][b:b + 1, kept], xs[2][b:b + 1, kept]])
    assert_close(out[b, q_mask[b]], ref[0, q_mask[b]], what="masked vs cut")
    # causal: query step i sees no value step after i
    _, a = layer(xs, use_causal_mask=True, return_attention_scores=True)
    assert np.all(a[:, np.triu_indices(TQ, 1, TV)[0], np.triu_indices(TQ, 1, TV)[1]] == 0)
    assert layer.compute_mask(xs, [q_mask, v_mask]) is not None
    np.testing.assert_array_equal(layer.compute_mask(xs, [q_mask, v_mask]), q_mask)
    assert layer.compute_mask(xs, [None, v_mask]) is None and layer.compute_mask(xs) is None


def test_a_fully_masked_row_falls_back_to_the_unmasked_softmax_as_keras(float64):
    xs = make_inputs(False, seed=8)
    layer = Attention()
    v_mask = np.ones((B, TV), dtype=bool)
    v_mask[0] = False
    _, a = layer(xs, mask=[None, v_mask], return_attention_scores=True)
    _, a_plain = layer(xs, return_attention_scores=True)
    assert_close(a[0], a_plain[0], what="all -1e9 shifts cancel in the softmax")


def test_dropout_only_when_training_and_reproducible(float64):
    xs = make_inputs(True, seed=9)
    layer = Attention(dropout=0.5, seed=1)
    _, a_eval = layer(xs, return_attention_scores=True)
    assert_close(a_eval.sum(axis=-1), np.ones((B, TQ)))
    _, a1 = layer(xs, training=True, return_attention_scores=True)
    assert np.any(a1 == 0)
    assert_close(a1[a1 != 0], 2 * a_eval[a1 != 0], what="kept weights scaled by 1/(1-rate)")
    _, a2 = Attention(dropout=0.5, seed=1)(xs, training=True, return_attention_scores=True)
    np.testing.assert_array_equal(a1, a2)
    assert Attention().generator is None


def test_weights_config_and_shapes():
    layer = Attention(use_scale=True, score_mode="concat", dropout=0.1, seed=4, name="att")
    layer.build([(None, 4, 3), (None, 5, 2), (None, 5, 3)])
    assert [(w.name, w.shape) for w in layer.weights] == [("scale", ()),
                                                          ("concat_score_weight", ())]
    assert layer.count_params() == 2 and layer.get_weights()[0] == 1.0
    cfg = json.loads(json.dumps(serialize(layer)))
    assert cfg["config"] == {"name": "att", "trainable": True, "use_scale": True,
                             "score_mode": "concat", "dropout": 0.1, "seed": 4}
    again = deserialize(cfg)
    assert isinstance(again, Attention) and again.get_config() == layer.get_config()
    shapes = [(None, 4, 3), (None, 5, 2), (None, 5, 3)]
    assert layer.compute_output_shape(shapes) == (None, 4, 2)
    assert layer.compute_output_shape(shapes, True) == [(None, 4, 2), (None, 4, 5)]

    add = AdditiveAttention(name="add")
    add.build([(None, 4, 3), (None, 5, 2), (None, 5, 3)])
    assert [(w.name, w.shape) for w in add.weights] == [("scale", (3,))]
    assert "score_mode" not in add.get_config()
    again = AdditiveAttention.from_config(add.get_config())
    assert again.use_scale and again.get_config() == add.get_config()
    assert AdditiveAttention(use_scale=False).get_config()["use_scale"] is False


def test_symbolic_call_records_the_scores_output_and_the_call_kwargs():
    q, v = Input((4, 3)), Input((5, 2))
    k = Input((5, 3))
    layer = Attention()
    out = layer([q, v, k])
    assert out.shape == (None, 4, 2)
    out2, scores = layer([q, v, k], return_attention_scores=True, use_causal_mask=True)
    assert (out2.shape, scores.shape) == ((None, 4, 2), (None, 4, 5))
    node = layer._inbound_nodes[1]
    assert node.kwargs == {"return_attention_scores": True, "use_causal_mask": True}
    shapes = [(None, 4, 3), (None, 5, 2), (None, 5, 3)]
    assert layer.compute_output_shape(shapes) == (None, 4, 2)       # back to one output


# ---- in a functional model ------------------------------------------------------------------
def seq2seq(attention, masking=False, return_scores=False, Te=4, Td=3, F=2, H=3, K=2):
    enc_in, dec_in = Input((Te, F)), Input((Td, F))
    x = Masking()(enc_in) if masking else enc_in
    enc_seq, h, c = LSTM(H, return_sequences=True, return_state=True, name="encoder")(x)
    dec_seq = LSTM(H, return_sequences=True, name="decoder")(dec_in, initial_state=[h, c])
    att = attention([dec_seq, enc_seq], return_attention_scores=return_scores)
    context, scores = att if return_scores else (att, None)
    out = Dense(K, name="head")(Concatenate()([dec_seq, context]))
    return Model([enc_in, dec_in], [out, scores] if return_scores else out)


def model_data(Te=4, Td=3, F=2, seed=0):
    rng = np.random.default_rng(seed)
    enc, dec = rng.standard_normal((2, Te, F)), rng.standard_normal((2, Td, F))
    enc[1, 2:] = 0.0                                   # padding for the Masking variant
    return enc, dec


def check_model_gradients(model, xs, seed=0, padded=None):
    """Every weight and input gradient by central differences (``padded[i]``: a boolean array
    of the entries of input i that Masking treats as padding, where a nudge changes the mask
    and a difference means nothing; there the gradient must be 0)."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        w.assign(rng.uniform(0.3, 1.0, w.shape) * rng.choice([-1, 1], w.shape))
    outs = model.forward(xs)
    outs = outs if isinstance(outs, list) else [outs]
    ws = [rng.standard_normal(o.shape) for o in outs]

    def loss():
        o = model.forward(xs)
        return float(sum(np.sum(w * t) for w, t in zip(ws, o if isinstance(o, list) else [o])))

    loss()
    model.zero_grad()
    dxs = model.backward(ws if len(ws) > 1 else ws[0])
    for w in model.weights:
        assert_close(w.grad, numeric_grad(loss, w.value), what=f"model d{w.path}")
    for i, (g, x) in enumerate(zip(dxs, xs)):
        skip = padded[i] if padded is not None else np.zeros(x.shape, dtype=bool)
        num = numeric_grad(loss, x)
        assert_close(g[~skip], num[~skip], what=f"model d input {i}")
        assert np.all(g[skip] == 0), f"model d input {i} at padded steps"


@pytest.mark.parametrize("attention, masking, scores", [
    (lambda: Attention(use_scale=True), False, False),
    (lambda: Attention(use_scale=True), True, True),
    (lambda: Attention(score_mode="concat"), True, False),
    (lambda: AdditiveAttention(), True, True),
], ids=["dot", "dot-masking-scores", "concat-masking", "additive-masking-scores"])
def test_seq2seq_model_gradients(float64, attention, masking, scores):
    model = seq2seq(attention(), masking, scores)
    enc, dec = model_data()
    padded = [np.broadcast_to((enc == 0).all(-1, keepdims=True), enc.shape) if masking
              else np.zeros(enc.shape, dtype=bool), np.zeros(dec.shape, dtype=bool)]
    assert padded[0].sum() == (4 if masking else 0)
    check_model_gradients(model, [enc, dec], padded=padded)
    if masking and scores:                            # the encoder's mask reached the layer
        _, a = model.forward([enc, dec])
        assert np.all(a[1, :, 2:] == 0) and np.all(a[0] > 0)


def test_seq2seq_config_and_save_round_trips_keep_call_kwargs(float64, tmp_path):
    model = seq2seq(AdditiveAttention(name="att"), masking=True, return_scores=True)
    cfg = json.loads(json.dumps(model.get_config()))
    att_spec = next(s for s in cfg["layers"] if s["name"] == "att")
    assert att_spec["inbound_nodes"][0]["kwargs"] == {"return_attention_scores": True}
    again = Model.from_config(cfg)
    again.set_weights(model.get_weights())
    xs = list(model_data())
    for got, want in zip(again.forward(xs), model.forward(xs)):
        assert_close(got, want)
    # the shape-() scale of Attention survives save / load_model
    dot = seq2seq(Attention(use_scale=True, score_mode="concat", name="dot_att"), True, True)
    dot.get_layer("dot_att").set_weights([np.array(0.7), np.array(-1.3)])
    dot.save(tmp_path / "m.safetensors")
    loaded = load_model(tmp_path / "m.safetensors")
    assert [w.shape for w in loaded.get_layer("dot_att").weights] == [(), ()]
    for got, want in zip(loaded.forward(xs), dot.forward(xs)):
        assert_close(got, want)


def test_seq2seq_compile_fit_step(float64):
    model = seq2seq(Attention(use_scale=True, name="att"), masking=True)
    enc, dec = model_data()
    y = np.random.default_rng(1).standard_normal((2, 3, 2))
    model.compile(optimizer="adam", loss="mse")
    scale_before = model.get_layer("att").scale.numpy()
    history = model.fit([enc, dec], y, epochs=2, batch_size=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert model.get_layer("att").scale.numpy() != scale_before   # the gradient reached it


# ---- bad input ------------------------------------------------------------------------------
def test_bad_input_raises_value_errors_naming_the_layer():
    q, v = np.ones((2, 4, 3)), np.ones((2, 5, 3))
    layer = Attention(name="att")
    with pytest.raises(ValueError, match="att: Attention must be called on a list"):
        layer(q)
    with pytest.raises(ValueError, match="att: Attention expects 2 or 3 inputs.*got 1"):
        layer([q])
    with pytest.raises(ValueError, match="att: Attention expects 2 or 3 inputs.*got 4"):
        layer([q, v, v, v])
    with pytest.raises(ValueError, match="att: query and key must have the same number of "
                                         "features for 'dot' scores"):
        layer([q, v, np.ones((2, 5, 4))])
    with pytest.raises(ValueError, match=r"att: query and value \(used as key\)"):
        layer([q, np.ones((2, 5, 2))])
    with pytest.raises(ValueError, match="att: key and value must have the same number of "
                                         "time steps"):
        layer([q, v, np.ones((2, 6, 3))])
    with pytest.raises(ValueError, match="att: expected query of rank 3"):
        layer([np.ones((2, 3)), v])
    with pytest.raises(ValueError, match=r"att: expected a value mask of shape \(2, 5\)"):
        layer([q, v], mask=[None, np.ones((2, 4), dtype=bool)])
    with pytest.raises(ValueError, match=r"att: expected a query mask of shape \(2, 4\)"):
        layer([q, v], mask=[np.ones((2, 5), dtype=bool), None])
    with pytest.raises(ValueError, match="att: mask must be a list"):
        layer([q, v], mask=np.ones((2, 5), dtype=bool))
    with pytest.raises(ValueError, match="att: query, value and key must have the same batch"):
        layer([q, np.ones((3, 5, 3))])
    with pytest.raises(ValueError, match="att: Attention expects 2 or 3 inputs"):
        Attention(name="att")([Input((4, 3))])
    with pytest.raises(ValueError, match="same number of features"):
        Attention()([Input((4, 3)), Input((5, 2))])
    with pytest.raises(ValueError, match="invalid score_mode 'general'"):
        Attention(score_mode="general")
    with pytest.raises(ValueError, match="expected dropout in"):
        AdditiveAttention(dropout=1.0)
    with pytest.raises(ValueError, match="additive scores"):
        AdditiveAttention(name="add")([q, np.ones((2, 5, 2))])
    add = AdditiveAttention(name="add")
    add([q, v])
    with pytest.raises(ValueError, match="add: expected query with 3 features, got 2"):
        add([np.ones((2, 4, 2)), np.ones((2, 5, 2))])
    layer([q, v], return_attention_scores=True)
    with pytest.raises(ValueError, match="att: the forward returned .output, scores."):
        layer.backward(np.ones((2, 4, 3)))
    layer([q, v])
    with pytest.raises(ValueError, match=r"att: expected doutput of shape \(2, 4, 3\)"):
        layer.backward(np.ones((2, 4, 2)))
    with pytest.raises(ValueError, match="backward.. called before forward"):
        Attention().backward(np.ones((2, 4, 3)))
