"""MultiHeadAttention: PyTorch parity (nn.MultiheadAttention: outputs, attention weights,
every gradient, float64), finite differences with distinct query/key/value, masks and causal
masks, the functional API (self-attention), Keras's weights and bad input."""

import numpy as np
import pytest

import rnnkit
from rnnkit import layers
from gradcheck import assert_close, check_layer_gradients

torch = pytest.importorskip("torch")
RNG = np.random.default_rng(0)


def _pair(H=2, K=3, D=6, Dk=6, Dv=6):
    mha = layers.MultiHeadAttention(H, K, dtype="float64")
    mha.build((None, 4, D), (None, 5, Dv), (None, 5, Dk))
    mha.set_weights([RNG.normal(scale=0.5, size=w.shape) for w in mha.weights])
    t = torch.nn.MultiheadAttention(H * K, H, kdim=Dk, vdim=Dv, batch_first=True,
                                    dtype=torch.float64)
    W = {w.name: w.value for w in mha.weights}
    with torch.no_grad():
        t.q_proj_weight.copy_(torch.tensor(W["query_kernel"].reshape(D, -1).T))
        t.k_proj_weight.copy_(torch.tensor(W["key_kernel"].reshape(Dk, -1).T))
        t.v_proj_weight.copy_(torch.tensor(W["value_kernel"].reshape(Dv, -1).T))
        t.in_proj_bias.copy_(torch.tensor(np.concatenate(
            [W["query_bias"].ravel(), W["key_bias"].ravel(), W["value_bias"].ravel()])))
        t.out_proj.weight.copy_(torch.tensor(W["output_kernel"].reshape(H * K, -1).T))
        t.out_proj.bias.copy_(torch.tensor(W["output_bias"]))
    return mha, t


@pytest.mark.parametrize("causal", [False, True])
def test_matches_torch_outputs_scores_and_gradients(causal):
    mha, t = _pair(Dk=5, Dv=7)
    q, k, v = RNG.normal(size=(2, 4, 6)), RNG.normal(size=(2, 5, 5)), RNG.normal(size=(2, 5, 7))
    y, P = mha.forward(q, value=v, key=k, return_attention_scores=True,
                       use_causal_mask=causal)
    qt, kt, vt = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    mask = None
    if causal:
        mask = ~torch.tensor(np.tril(np.ones((4, 5), bool)))     # Keras: key step <= query step
    yt, Pt = t(qt, kt, vt, attn_mask=mask, average_attn_weights=False)
    assert_close(y, yt.detach().numpy(), 1e-12, what="y")
    assert_close(P, Pt.detach().numpy(), 1e-12, what="scores")
    dy = RNG.normal(size=y.shape)
    yt.backward(torch.tensor(dy))
    dq, dk, dv = mha.backward([dy, None])
    for ours, theirs, what in ((dq, qt.grad, "dq"), (dk, kt.grad, "dk"), (dv, vt.grad, "dv")):
        assert_close(ours, theirs.numpy(), 1e-12, what=what)
    g = {w.name: w.grad for w in mha.weights}
    assert_close(g["query_kernel"].reshape(6, -1).T, t.q_proj_weight.grad.numpy(), 1e-12)
    assert_close(g["output_kernel"].reshape(6, -1).T, t.out_proj.weight.grad.numpy(), 1e-12)
    assert_close(np.concatenate([g["query_bias"].ravel(), g["key_bias"].ravel(),
                                 g["value_bias"].ravel()]), t.in_proj_bias.grad.numpy(), 1e-12)


def test_finite_differences_with_mask_and_distinct_inputs():
    mha = layers.MultiHeadAttention(2, 2, value_dim=3, output_shape=4, dtype="float64")
    q, v, k = RNG.normal(size=(2, 3, 4)), RNG.normal(size=(2, 5, 3)), RNG.normal(size=(2, 5, 2))
    mask = RNG.random((2, 3, 5)) > 0.3
    mask[:, :, 0] = True
    mha(q, v, key=k)
    check_layer_gradients(mha, q, {"value": v, "key": k, "attention_mask": mask},
                          grad_args=("key", "value"))


def test_self_attention_in_a_functional_model_trains(tmp_path):
    i = layers.Input((6, 8))
    h = layers.LSTM(8, return_sequences=True)(i)
    a = layers.MultiHeadAttention(2, 4)(h, h)
    out = layers.Dense(1)(layers.GlobalAveragePooling1D()(layers.Add()([h, a])))
    model = rnnkit.Model(i, out)
    x = RNG.normal(size=(16, 6, 8)).astype("float32")
    y = x.sum(axis=(1, 2))[:, None].astype("float32") / 10
    model.compile(optimizer=rnnkit.optimizers.Adam(0.01), loss="mse")
    hist = model.fit(x, y, epochs=20, verbose=0, seed=0)
    assert hist.history["loss"][-1] < 0.5 * hist.history["loss"][0]
    path = str(tmp_path / "m.rnnkit")
    model.save(path)
    np.testing.assert_array_equal(rnnkit.load_model(path).predict(x, verbose=0),
                                  model.predict(x, verbose=0))
    names = [w.name for w in model.layers[2].weights]
    assert names == ["query_kernel", "query_bias", "key_kernel", "key_bias", "value_kernel",
                     "value_bias", "output_kernel", "output_bias"]


def test_bad_input_names_the_layer():
    mha = layers.MultiHeadAttention(2, 2, name="att")
    mha(np.ones((1, 3, 4)), np.ones((1, 3, 4)))
    with pytest.raises(ValueError, match="att: expected value of shape"):
        mha(np.ones((1, 3, 4)), np.ones((1, 3, 5)))
    with pytest.raises(ValueError, match="att: expected attention_mask"):
        mha(np.ones((1, 3, 4)), np.ones((1, 3, 4)), attention_mask=np.ones((1, 2, 2)))
    with pytest.raises(ValueError, match="num_heads"):
        layers.MultiHeadAttention(0, 2)
