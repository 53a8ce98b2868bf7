"""rnnkit view without a browser: the cell traces against layer.forward, the features and the
ranking, the run folder, the RunLog callback, and the server's answers to bad requests."""

import http.client
import json
import os
import re
import threading

import numpy as np
import pytest

import rnnkit
from rnnkit import layers
from rnnkit.cli import build_parser
from rnnkit.data import CharVocab
from rnnkit.diagnostics import GradientNormHistory
from rnnkit.kernels import dispatch
from rnnkit.training.callbacks import RunLog
from rnnkit.view import (CellReader, ViewApp, ViewError, make_server, rank_units, read_curves,
                         step_trace, text_features, trace_layer)
from rnnkit.view.cells import KINDS, cell_of

from view_runs import (QUOTE_TEXT, QUOTE_UNIT, make_run, quote_model, stacked_model,
                       textlm_model, write_log)

# anything that would load from elsewhere (the SVG namespace URI is a name, not a load)
_REMOTE = re.compile(r"""(src|href|action)\s*=\s*["']?\s*(https?:)?//|url\(\s*["']?(https?:)?//|@import""")
PATHS = ["reference"] + (["fast"] if dispatch.fast_available() else [])
CASES = {"lstm": (layers.LSTM, {}), "gru": (layers.GRU, {}),
         "gru_reset_before": (layers.GRU, {"reset_after": False}),
         "rnn": (layers.SimpleRNN, {}), "lstm_no_bias": (layers.LSTM, {"use_bias": False}),
         "lstm_zoneout": (layers.LSTM, {"zoneout": 0.3, "cell_zoneout": 0.6}),
         "lstm_cell_zoneout": (layers.LSTM, {"cell_zoneout": 0.4}),
         "gru_zoneout": (layers.GRU, {"zoneout": 0.4}),
         "gru_reset_before_zoneout": (layers.GRU, {"reset_after": False, "zoneout": 0.3}),
         "mingru": (layers.MinGRU, {}), "mingru_tanh": (layers.MinGRU, {"activation": "tanh"}),
         "minlstm": (layers.MinLSTM, {}), "minlstm_no_bias": (layers.MinLSTM, {"use_bias": False}),
         "lnlstm": (layers.LayerNormLSTM, {}),
         "lnlstm_zoneout": (layers.LayerNormLSTM, {"zoneout": 0.3, "cell_zoneout": 0.5})}


@pytest.fixture(params=PATHS)
def kernels(request, monkeypatch):
    monkeypatch.setenv("RNNKIT_KERNELS", request.param)
    return request.param


# ---- cells ---------------------------------------------------------------------------------
@pytest.mark.parametrize("case", sorted(CASES))
def test_trace_matches_layer_forward_and_the_step_loop(case, kernels, float64):
    cls, opts = CASES[case]
    T, I, H = 9, 4, 5
    layer = cls(H, return_sequences=True, **opts)
    layer.build((None, None, I))
    rng = np.random.default_rng(3)
    layer.set_weights([rng.normal(0, 0.6, w.shape) for w in layer.get_weights()])
    x = rng.normal(size=(T, I))
    h_forward = layer.forward(x[None])[0]                              # (T, H)
    trace, err = trace_layer(layer, x)
    np.testing.assert_allclose(trace["h"], h_forward, rtol=0, atol=1e-12)
    assert err < 1e-12                           # h rebuilt from the gates equals forward's h
    loop = step_trace(layer, x)                  # the readable one-step loop
    assert sorted(loop) == sorted(trace)
    for kind in trace:
        np.testing.assert_allclose(loop[kind], trace[kind], rtol=0, atol=1e-12, err_msg=kind)
    if cell_of(layer) in ("lstm", "lnlstm"):     # c_T as the layer returns it
        layer.return_state = True
        _, _, c_T = layer.forward(x[None])
        np.testing.assert_allclose(trace["c"][-1], c_T[0], rtol=0, atol=1e-12)


def test_reader_stack_matches_forward_and_predict():
    vocab = CharVocab.from_text(QUOTE_TEXT)
    model = stacked_model(vocab)
    reader = CellReader(model, vocab)
    assert reader.reason is None and reader.is_lm
    r = reader.read(QUOTE_TEXT[:50])
    ids = vocab.encode(QUOTE_TEXT[:50])[None]
    emb, lstm, _, gru, _ = model.layers
    h0 = lstm.forward(emb.forward(ids))
    h1 = gru.forward(h0)
    np.testing.assert_allclose(r.traces[0]["h"], h0[0], atol=1e-6)
    np.testing.assert_allclose(r.traces[1]["h"], h1[0], atol=1e-6)
    logits = model.predict(ids, verbose=0)[0].astype(np.float64)
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    np.testing.assert_allclose(r.top_probs[:, 0], p.max(-1), atol=1e-7)
    assert np.all(r.top_probs.sum(-1) <= 1 + 1e-9)
    assert max(r.rebuild_errors) < 1e-5


@pytest.mark.parametrize("cell, block, kind", [("mingru", "residual", "z"),
                                               ("lnlstm", "plain", "c")])
def test_reader_residual_and_new_cells_match_forward_predict_and_sampling(cell, block, kind):
    vocab = CharVocab.from_text(QUOTE_TEXT)
    model = textlm_model(vocab, cell, block)
    reader = CellReader(model, vocab)
    assert reader.reason is None and reader.is_lm
    assert [l["cell"] for l in reader.layers()] == [cell, cell]
    text = QUOTE_TEXT[:40]
    r = reader.read(text)
    ids = vocab.encode(text)[None]
    stack = model.layers
    x, hs = stack[0].forward(ids), []                # the model's own layers, one by one
    for l in stack[1:-1]:
        if isinstance(l, layers.ResidualBlock) and l.rnn is not None:
            hs.append(l.rnn.forward(l.norm.forward(x)))          # the cell reads LN(x)
        x = l.forward(x)
        if not isinstance(l, layers.ResidualBlock):
            hs.append(x)
    for k in range(2):
        np.testing.assert_allclose(r.traces[k]["h"], hs[k][0], atol=1e-6)
        assert sorted(r.traces[k]) == sorted(reader.layers()[k]["kinds"])
    logits = model.predict(ids, verbose=0)[0].astype(np.float64)
    p = np.exp(logits - logits.max(-1, keepdims=True))
    np.testing.assert_allclose(r.top_probs[:, 0], (p / p.sum(-1, keepdims=True)).max(-1),
                               atol=1e-6)
    assert max(r.rebuild_errors) < 1e-5              # float32
    # sampling steps every layer one character at a time: the same values as reading
    got = list(reader.sample("he ", 12, seed=0, layer=1, kind=kind, unit=2))
    again = reader.read("he " + "".join(ch for ch, _ in got))
    np.testing.assert_allclose([v for _, v in got], again.traces[1][kind][3:, 2], atol=1e-5)


def test_reader_says_why_not_for_other_models():
    vocab = CharVocab.from_text("abc")
    clf = rnnkit.Sequential([layers.Input((5, 3)), layers.LSTM(2), layers.Dense(1)])
    assert "not a sequence of token ids" in CellReader(clf, vocab).reason
    dense = rnnkit.Sequential([layers.Input((None,), dtype="int32"), layers.Embedding(5, 2),
                               layers.Dense(1)])
    assert "no LSTM, GRU, SimpleRNN, MinGRU" in CellReader(dense, vocab).reason
    bi = rnnkit.Sequential([layers.Input((None,), dtype="int32"), layers.Embedding(5, 2),
                            layers.Bidirectional(layers.LSTM(2, return_sequences=True),
                                                 name="both_ways"),
                            layers.LSTM(2), layers.Dense(1)])
    assert CellReader(bi, vocab).reason.startswith("both_ways: Bidirectional")
    # a classifier over characters: cells yes, next-character predictions no
    cls = rnnkit.Sequential([layers.Input((None,), dtype="int32"), layers.Embedding(5, 2),
                             layers.GRU(3), layers.Dense(2)])
    reader = CellReader(cls, vocab)
    assert reader.reason is None and not reader.is_lm
    r = reader.read("abca")
    assert r.traces[0]["z"].shape == (4, 3) and r.top_ids is None


# ---- features and ranking -------------------------------------------------------------------
def test_features():
    f = text_features('ab "c(d)" E1\n  x', regex=r"\d")
    assert f["quotes"].tolist()[2:9] == [0, 1, 1, 1, 1, 1, 0]
    assert f["brackets"].tolist()[4:8] == [0, 1, 1, 0]
    assert f["line_pos"].tolist()[-4:] == [0, 1, 2, 3]
    assert f["upper"].nonzero()[0].tolist() == [10] and f["digit"].nonzero()[0].tolist() == [11]
    assert f["word_start"].nonzero()[0].tolist() == [0, 4, 6, 10, 15]
    assert f["regex"].nonzero()[0].tolist() == [11]
    with pytest.raises(ValueError, match="bad regular expression"):
        text_features("abc", regex="(")


def test_planted_quote_cell_ranks_first():
    vocab = CharVocab.from_text(QUOTE_TEXT)
    r = CellReader(quote_model(vocab), vocab).read(QUOTE_TEXT)
    c = r.traces[0]["c"][:, QUOTE_UNIT]
    inside = text_features(QUOTE_TEXT)["quotes"]
    first = QUOTE_TEXT.index('"')
    assert np.all(np.abs(c[first:] - np.where(inside[first:] > 0, 1, -1)) < 1e-2)
    top = rank_units(r.traces, inside)
    assert (top[0]["layer"], top[0]["unit"]) == (0, QUOTE_UNIT) and top[0]["corr"] > 0.95
    with pytest.raises(ValueError, match="same value at every character"):
        rank_units(r.traces, np.ones(len(QUOTE_TEXT)))


# ---- the log and the run folder ------------------------------------------------------------
def test_runlog_batch_losses_and_gradient_norms(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(12, 4, 2)), rng.normal(size=(12, 1))
    m = rnnkit.Sequential([layers.Input((4, 2)), layers.LSTM(3, seed=0), layers.Dense(1)])
    m.compile(optimizer=rnnkit.optimizers.SGD(0.1, clipnorm=0.05), loss="mse")
    norms, log = GradientNormHistory(), RunLog(tmp_path / "run" / "log.jsonl", fresh=True)
    m.fit(x, y, batch_size=4, epochs=2, verbose=0, shuffle=False, callbacks=[norms, log])
    curves = read_curves(str(tmp_path / "run"))
    assert [e["epoch"] for e in curves["epochs"]] == [1, 2]
    assert len(curves["batches"]) == 6 and curves["steps"] == 3
    np.testing.assert_allclose([b["grad_norm_before"] for b in curves["batches"]],
                               norms.norm_before, rtol=1e-12)
    np.testing.assert_allclose([b["grad_norm_after"] for b in curves["batches"]],
                               norms.norm_after, rtol=1e-12)
    assert all(b["grad_norm_after"] <= b["grad_norm_before"] for b in curves["batches"])
    for e in (1, 2):                       # the batches' own losses average to the epoch loss
        own = [b["loss"] for b in curves["batches"] if b["epoch"] == e]
        assert np.mean(own) == pytest.approx(curves["epochs"][e - 1]["loss"], rel=1e-6)
    assert curves["epochs"][0]["lr"] == pytest.approx(0.1)


def test_run_folder_problems(tmp_path):
    (tmp_path / "empty").mkdir()
    app = ViewApp([str(tmp_path / "empty"), str(tmp_path / "nowhere")])
    msgs = app.messages()
    assert "not a run folder" in msgs[0] and "no such folder" in msgs[1]
    assert all("error" in r for r in app.runs_info()["runs"])
    run = tmp_path / "broken"
    make_run(str(run))
    with open(run / "model.rnnkit", "r+b") as f:                 # a corrupted model file
        f.seek(20)
        f.write(b"\xff" * 64)
    app = ViewApp([str(run)])
    info = app.runs_info()["runs"][0]
    assert "cannot read the model file" in info["model_error"] and len(info["epochs"]) == 2
    with pytest.raises(ViewError, match="not available"):
        app.read(0, "abc")


def test_app_answers_and_bad_requests(tmp_path):
    make_run(str(tmp_path / "q"))
    app = ViewApp([str(tmp_path / "q")])
    r = app.read(0, 'say "é" ok')
    assert "not in the model's vocabulary" in r["warning"] and "U+00E9" in r["warning"]
    tid = app.read(0, QUOTE_TEXT)["text_id"]
    for bad, match in [((5, "h", 0), "no recurrent layer 5"), ((0, "z", 0), "has no 'z'"),
                       ((0, "h", 99), "units 0..3")]:
        with pytest.raises(ViewError, match=match):
            app.unit(tid, *bad)
    with pytest.raises(ViewError, match="outside the text"):
        app.next_chars(tid, 10_000)
    with pytest.raises(ViewError, match="bad regular expression"):
        app.rank(tid, "regex", "(")
    top = app.rank(tid, "quotes")["units"][0]
    assert (top["layer"], top["unit"]) == (0, QUOTE_UNIT)
    chars = list(app.sample(0, 'x = "', length=20, temperature=0.5, seed=1, kind="c",
                            unit=QUOTE_UNIT))
    assert len(chars) == 20 and all(abs(abs(c["v"]) - 1) < 1e-2 for c in chars)
    with pytest.raises(ViewError, match="temperature"):
        app.sample(0, "x", temperature=-1)
    g = app.gradient(tid, 0)
    assert len(g["values"]) > 0


def test_app_on_saved_residual_and_layer_norm_runs(tmp_path):
    for kind in ("minlstm/residual", "lnlstm/residual"):
        folder = tmp_path / kind.replace("/", "_")
        make_run(str(folder), kind)                  # saved and loaded again as the page does
        app = ViewApp([str(folder)])
        info = app.runs_info()["runs"][0]
        assert info["cells_reason"] is None, info["cells_reason"]
        cell = kind.split("/")[0]
        assert [l["kinds"] for l in info["layers"]] == [list(KINDS[cell])] * 2
        tid = app.read(0, QUOTE_TEXT)["text_id"]
        assert app.unit(tid, 1, "i", 5)["kind"] == "i"
        assert app.rank(tid, "quotes")["units"]
        assert app.gradient(tid, 1)["layer"] == 1       # dL/dh_t of the layer inside a block
        assert len(list(app.sample(0, "he ", length=5, seed=0, layer=1, kind="hh"
                                   if cell == "minlstm" else "c"))) == 5


def test_a_model_saved_during_the_run_is_read_again(tmp_path):
    model, _ = make_run(str(tmp_path / "q"))
    app = ViewApp([str(tmp_path / "q")])
    tid = app.read(0, QUOTE_TEXT)["text_id"]
    before = app.unit(tid, 0, "h", 0)["values"]
    stamp = app.runs_info()["runs"][0]["model_stamp"]
    weights = model.get_weights()
    weights[2] = weights[2] * 0.5                           # the recurrent kernel changes
    model.set_weights(weights)
    model.save(str(tmp_path / "q" / "model.rnnkit"))
    os.utime(tmp_path / "q" / "model.rnnkit", ns=(1, 10**18))  # a different stamp, surely
    assert app.runs_info()["runs"][0]["model_stamp"] != stamp
    with pytest.raises(ViewError, match="read it again"):      # the old reading is dropped
        app.unit(tid, 0, "h", 0)
    tid = app.read(0, QUOTE_TEXT)["text_id"]
    assert app.unit(tid, 0, "h", 0)["values"] != before


# ---- the server -----------------------------------------------------------------------------
def test_server_serves_only_the_run_and_binds_to_localhost(tmp_path, capsys):
    make_run(str(tmp_path / "q"))
    (tmp_path / "secret.txt").write_text("no")
    args = build_parser().parse_args(["view", str(tmp_path / "q")])
    assert args.host == "127.0.0.1"
    server = make_server([str(tmp_path / "q")], port=0)
    assert server.server_address[0] == "127.0.0.1"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        def get(path):
            c = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=30)
            c.request("GET", path)
            r = c.getresponse()
            return r.status, r.read()
        for path in ["/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/files/0/../secret.txt",
                     "/files/0/%2e%2e%2fsecret.txt", "/files/0/..%2F..%2Fetc%2Fpasswd",
                     "/etc/passwd", "/files/7/log.jsonl", "/static/../server.py"]:
            status, body = get(path)
            assert status == 404, path
            assert b"root:" not in body and b"no" != body
        assert get("/files/0/vocab.json")[0] == 200
        status, body = get("/api/unit?text_id=nope&layer=0&kind=h&unit=0")
        assert status == 400 and "read it again" in json.loads(body)["error"]
        status, body = get("/")
        assert status == 200 and not _REMOTE.search(body.decode())
    finally:
        server.shutdown()
        server.server_close()
    err = capsys.readouterr().err
    assert "rnnkit view: error: not found" in err and "Traceback" not in err


def test_export_and_cli_errors(tmp_path, capsys):
    from rnnkit.cli import main
    make_run(str(tmp_path / "q"))
    out = tmp_path / "page.html"
    assert main(["view", str(tmp_path / "q"), "--export", str(out)]) == 0
    html = out.read_text()
    assert '"mode":"export"' in html and not _REMOTE.search(html)
    (tmp_path / "empty").mkdir()
    assert main(["view", str(tmp_path / "empty"), "--export", str(tmp_path / "x.html")]) == 1
    assert "not a run folder" in capsys.readouterr().err
    write_log(str(tmp_path / "q"), 1, start=3)
    assert len(read_curves(str(tmp_path / "q"))["epochs"]) == 3
    assert os.path.exists(tmp_path / "x.html")
