"""Tiny run folders for the tests of ``rnnkit view`` (tests/test_view*.py)."""

import json
import os

import numpy as np

import rnnkit
from rnnkit import layers
from rnnkit.data import CharVocab

QUOTE_TEXT = ('he said "hi there" and then "ok" but not "this one" at all.\n'
              'x = "abc" + y ; print("done") ; z = 3\n') * 3
QUOTE_UNIT = 2


def quote_model(vocab, H=4, seed=0):
    """Embedding(V, 2) -> LSTM(H) -> Dense(V) whose unit QUOTE_UNIT is set by hand to flip at
    every double quote: c = +1 inside quotes, -1 outside (0 before the first quote).

    Embedding row = [is '"', 1]. For the unit q: i = sigma(20 is_quote - 10), f = sigma(10 -
    20 is_quote), o = sigma(10), g = tanh(5 - 20 h_prev[q]): an ordinary character keeps c
    (f ~ 1, i ~ 0); a quote replaces it with g = -sign(h_prev) (+1 from 0). The other units
    have random weights and no path into unit q.
    """
    V, q = len(vocab), QUOTE_UNIT
    m = rnnkit.Sequential([layers.Input((None,), dtype="int32"), layers.Embedding(V, 2),
                           layers.LSTM(H, return_sequences=True, seed=seed), layers.Dense(V)])
    rng = np.random.default_rng(seed)
    emb = np.zeros((V, 2), np.float32)
    emb[:, 1] = 1.0
    emb[vocab.token_to_id('"'), 0] = 1.0
    kernel = rng.normal(0, 0.5, (2, 4 * H)).astype(np.float32)
    rec = rng.normal(0, 0.5, (H, 4 * H)).astype(np.float32)
    bias = rng.normal(0, 0.2, 4 * H).astype(np.float32)
    cols = [q, H + q, 2 * H + q, 3 * H + q]                     # unit q's i, f, g, o columns
    kernel[:, cols] = 0.0
    rec[:, cols] = 0.0
    bias[cols] = 0.0
    kernel[0, q], kernel[1, q] = 20.0, -10.0                  # i
    kernel[0, H + q], kernel[1, H + q] = -20.0, 10.0          # f
    kernel[1, 2 * H + q], rec[q, 2 * H + q] = 5.0, -20.0      # g
    kernel[1, 3 * H + q] = 10.0                               # o
    dense = [rng.normal(0, 0.5, (H, V)).astype(np.float32), np.zeros(V, np.float32)]
    m.set_weights([emb, kernel, rec, bias] + dense)
    return m


def stacked_model(vocab, seed=0):
    """Embedding -> LSTM(6) -> Dropout -> GRU(5) -> Dense(V), every weight random non-zero."""
    V = len(vocab)
    m = rnnkit.Sequential([layers.Input((None,), dtype="int32"), layers.Embedding(V, 3),
                           layers.LSTM(6, return_sequences=True), layers.Dropout(0.1),
                           layers.GRU(5, return_sequences=True), layers.Dense(V)])
    rng = np.random.default_rng(seed)
    m.set_weights([rng.normal(0, 0.6, w.shape).astype(w.dtype) for w in m.get_weights()])
    return m


def textlm_model(vocab, cell, block, seed=1):
    """``rnnkit train-text --cell CELL --block BLOCK`` with 2 layers of 6 units, every weight
    random (layer norm gains and biases included)."""
    from rnnkit.cli.textlm import TextLMConfig, build_model
    cfg = TextLMConfig(cell=cell, block=block, units=6, layers=2, embedding=4)
    m = build_model(cfg, len(vocab))
    rng = np.random.default_rng(seed)
    m.set_weights([rng.normal(0, 0.6, w.shape).astype(w.dtype) for w in m.get_weights()])
    return m


def write_log(folder, epochs, batches_per_epoch=3, start=1):
    """Append RunLog-style lines for ``epochs`` epochs (numbers from ``start``)."""
    with open(os.path.join(folder, "log.jsonl"), "a", encoding="utf-8") as f:
        if start == 1:
            f.write(json.dumps({"kind": "start", "params": {"steps": batches_per_epoch}}) + "\n")
        for e in range(start, start + epochs):
            for b in range(batches_per_epoch):
                f.write(json.dumps({"kind": "batch", "epoch": e, "batch": b,
                                    "loss": 3.0 / (e + b / 3), "lr": 0.01,
                                    "grad_norm_before": 2.0 / e, "grad_norm_after": 1.0}) + "\n")
            f.write(json.dumps({"kind": "epoch", "epoch": e, "loss": 3.0 / e,
                                "val_loss": 3.2 / e, "lr": 0.01}) + "\n")
            f.write(json.dumps({"kind": "sample", "epoch": e, "prime": "he ",
                                "text": f"said \"{e}\"", "temperature": 0.8}) + "\n")


def make_run(folder, kind="quote", epochs=2):
    """A run folder with model.rnnkit, vocab.json, heldout.txt and log.jsonl; returns
    (model, vocab)."""
    os.makedirs(folder, exist_ok=True)
    vocab = CharVocab.from_text(QUOTE_TEXT)
    if "/" in kind:                                   # "cell/block" of rnnkit train-text
        model = textlm_model(vocab, *kind.split("/"))
    else:
        model = quote_model(vocab) if kind == "quote" else stacked_model(vocab)
    model.save(os.path.join(folder, "model.rnnkit"))
    vocab.save(os.path.join(folder, "vocab.json"))
    with open(os.path.join(folder, "heldout.txt"), "w", encoding="utf-8") as f:
        f.write(QUOTE_TEXT)
    write_log(folder, epochs)
    return model, vocab
