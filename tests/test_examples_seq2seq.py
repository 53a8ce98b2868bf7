"""The sequence-to-sequence examples run end to end (``--quick``), as a user would run them.

Each runs in a subprocess into a temporary ``--out``; the checks are the printed metric lines
(well-formed numbers in range), the written files (a model that loads back, a PNG), and what
a smoke run can show: its losses fall (margins measured over seeds 0-4, in the comments). The
full runs and their scores are in the README gallery, not here: a smoke run reaches no exact
answer (addition: 0-2 of 200 over seeds 0-4; translation: BLEU 0).
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import rnnkit
from example_runner import epoch_losses

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
TRANSLATION_DATA = ROOT.parent / "shared" / "data" / "eng-fra_tatoeba_5000.tsv"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run_example(name, *args, timeout=120):
    env = dict(os.environ, PYTHONIOENCODING="utf-8", MPLBACKEND="Agg")
    return subprocess.run([sys.executable, str(EXAMPLES / name), *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env)


def percent(line_pattern, text):
    m = re.search(line_pattern, text, re.MULTILINE)
    assert m, f"no line matching {line_pattern!r} in:\n{text}"
    return [float(g) for g in m.groups()]


def has_matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def check_plot(path):
    if has_matplotlib():
        assert path.read_bytes()[:8] == PNG_MAGIC
    else:
        assert not path.exists()


def test_addition_quick(tmp_path):
    out = tmp_path / "addition"
    r = run_example("addition.py", "--quick", "--out", out)
    assert r.returncode == 0, r.stderr
    text = r.stdout
    em, n_right, n_val = percent(r"^held-out exact match: ([\d.]+)% \((\d+)/(\d+)\)$", text)
    assert n_val == 200 and 0 <= n_right <= n_val
    assert em == pytest.approx(100 * n_right / n_val, abs=0.006)
    (acc,) = percent(r"^held-out per-character accuracy: ([\d.]+)%$", text)
    assert 0 <= acc <= 100
    # Three epochs, measured over seeds 0-4: the validation loss falls at every epoch, by
    # 0.15-0.20 in all (asserted: 0.1), and the per-character validation accuracy rises by
    # 0.045-0.10 (asserted: 0.02), to 0.38-0.42 (seed 0: 0.42).
    val_loss, val_acc = epoch_losses(text, "val_loss"), epoch_losses(text, "val_accuracy")
    assert len(val_loss) == 3 and val_loss[0] > val_loss[1] > val_loss[2], val_loss
    assert val_loss[2] < val_loss[0] - 0.1 and val_acc[2] > val_acc[0] + 0.02, (val_loss, val_acc)
    assert acc == pytest.approx(100 * val_acc[2], abs=0.006)
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))   # the gallery's
    assert (metrics["n_correct"], metrics["n_val"]) == (n_right, n_val)
    assert metrics["exact_match"] == pytest.approx(em / 100, abs=6e-5)
    wall, cpu = percent(r"^training time: ([\d.]+) s wall, ([\d.]+) s CPU \(3 epochs, 1800 "
                        r"questions, batch 32\)$", text)
    assert wall > 0 and cpu > 0
    # the sample lines show the question un-reversed, the target and the guess
    samples = re.findall(r"^Q (\d+)\+(\d+) +T (\d+) +[☑☒] ", text, re.MULTILINE)
    assert len(samples) == 8 and all(int(a) + int(b) == int(t) for a, b, t in samples)
    # the saved model loads and predicts one character distribution per answer position
    model = rnnkit.load_model(out / "model.rnnkit")
    probs = model.predict(np.zeros((2, 7, 12), dtype="float32"), verbose=0)
    assert probs.shape == (2, 4, 12) and np.allclose(probs.sum(-1), 1, atol=1e-5)
    check_plot(out / "val_accuracy.png")


def test_addition_rejects_bad_arguments(tmp_path):
    r = run_example("addition.py", "--epochs", "0", "--out", tmp_path)
    assert r.returncode == 2 and "--epochs must be >= 1" in r.stderr


@pytest.mark.skipif(not TRANSLATION_DATA.is_file(),
                    reason=f"shared data file {TRANSLATION_DATA} is absent")
def test_translate_quick(tmp_path):
    out = tmp_path / "translate"
    r = run_example("translate.py", "--quick", "--out", out)
    assert r.returncode == 0, r.stderr
    text = r.stdout
    n_sent, n_refs = percent(r"^held-out: (\d+) English sentences, (\d+) reference translations",
                             text)
    assert 0 < n_sent <= n_refs
    rows = {}
    for name in ("copy-input baseline", r"greedy", r"beam \(width 4\)"):
        em, ca, bleu = percent(rf"^{name} +([\d.]+)% +([\d.]+)% +([\d.]+)$", text)
        assert 0 <= em <= 100 and 0 <= ca <= 100 and 0 <= bleu <= 100
        rows[name] = (em, ca, bleu)
    # English copied as "French" shares some letters with the references, never all of them
    assert 0 < rows["copy-input baseline"][1] < 100
    # Two epochs, measured over seeds 0-4: the training loss falls by 0.21-0.30 (asserted: 0.1)
    # and the validation loss by 0.52-0.72 (asserted: 0.3); no translation is right yet.
    loss, val_loss = epoch_losses(text), epoch_losses(text, "val_loss")
    assert len(loss) == 2 and loss[1] < loss[0] - 0.1, loss
    assert val_loss[1] < val_loss[0] - 0.3, val_loss
    assert len(re.findall(r"^  .+ -> .*\| .+$", text, re.MULTILINE)) == min(8, int(n_sent))
    for name in ("model.rnnkit", "english_vocab.json", "french_vocab.json"):
        assert (out / name).stat().st_size > 0
    model = rnnkit.load_model(out / "model.rnnkit")
    assert [t.name for t in model.inputs] == ["english", "french_in"]
    probs = model.predict([np.array([[4, 5, 0]]), np.array([[2, 6]])], verbose=0)
    assert probs.shape[:2] == (1, 2) and np.allclose(probs.sum(-1), 1, atol=1e-5)
    check_plot(out / "training.png")
    # metrics.json (examples/_common.report): beam BLEU vs copy-input, the printed table's numbers
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["example"] == "translate" and metrics["metric"] == "BLEU"
    assert metrics["baseline_name"] == "copy-input" and metrics["higher_is_better"] is True
    assert metrics["rnn"] == pytest.approx(rows[r"beam \(width 4\)"][2], abs=0.051)
    assert metrics["baseline"] == pytest.approx(rows["copy-input baseline"][2], abs=0.051)
    assert metrics["scores"]["copy"]["char_accuracy"] == pytest.approx(
        rows["copy-input baseline"][1] / 100, abs=0.00051)
    assert metrics["train_seconds"] > 0 and metrics["heldout_sentences"] == n_sent
    assert f"held-out BLEU: rnn {metrics['rnn']:.4f}, baseline" in text


@pytest.mark.skipif(not TRANSLATION_DATA.is_file(),
                    reason=f"shared data file {TRANSLATION_DATA} is absent")
def test_translate_scores_and_step_function():
    """The scoring helpers and the attention step function, in process (no training)."""
    sys.path.insert(0, str(EXAMPLES))
    try:
        import translate as tr
    finally:
        sys.path.remove(str(EXAMPLES))
    assert tr.normalise("Je suis  fatigué\u202f!") == "je suis fatigué !"
    assert tr.edit_distance("chat", "chats") == 1 and tr.edit_distance("", "abc") == 3
    assert tr.char_accuracy("va !", ["va !", "bouge !"]) == 1.0
    assert tr.corpus_bleu(["a b c d"], [["a b c d"]]) == pytest.approx(100.0)
    assert tr.corpus_bleu(["a b"], [["c d"]]) == 0.0
    em, ca, bleu = tr.scores(["va !", "x"], [["va !"], ["merci !"]])
    assert em == 0.5 and ca == pytest.approx((1 + 0) / 2)

    # greedy decoding through the step function equals running the decoder step by step,
    # and the encoder outputs come back unchanged
    rnnkit.random.set_random_seed(0)
    model, encoder_model, L = tr.build(n_src=7, n_tgt=9, embed_dim=4, units=3)
    step = tr.make_step(tr.inference_decoder(L, 3), banned=[0, 1, 2])
    enc_out, h, c = encoder_model.forward(np.array([[4, 5, 6]]))
    logp, (h2, c2, enc_again) = step(np.array([2]), [h, c, enc_out])
    assert enc_again is enc_out and logp.shape == (1, 9)
    assert np.all(np.isneginf(logp[:, [0, 1, 2]])) and np.isclose(np.exp(logp).sum(), 1, atol=1e-5)
    tokens, _ = tr.greedy_decode(step, [h, c, enc_out], start_token=2, end_token=3, max_length=4)
    teacher = model.forward([np.array([[4, 5, 6]]), np.array([[2, *tokens]])])   # (1, T, 9)
    assert tokens == [int(t) for t in np.argmax(
        np.where(np.isin(np.arange(9), [0, 1, 2]), -1, teacher[0]), axis=-1)[:len(tokens)]]


def test_translate_missing_data_is_one_line(tmp_path):
    r = run_example("translate.py", "--quick", "--data", tmp_path / "nope.tsv", "--out", tmp_path)
    assert r.returncode == 2 and r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "data file not found" in lines[0] and "nope.tsv" in lines[0]
    assert "missing data" in lines[0]          # what tests/example_runner.run_quick skips on
