"""The README's gallery tables are rewritten from the examples' metrics.json (never by running
the full examples here: the runs below are fake metrics.json files in a temporary folder, with
the numbers the README showed when this was written)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rnnkit.cli import examples as cli_examples
from rnnkit.cli import gallery

ROOT = Path(__file__).resolve().parents[1]

TEXT = dict(rnn=2.321, baseline=2.311, higher_is_better=False, cell="lstm", units=256, epochs=8,
            ngram_order=6, heldout_chars=54400, train_seconds=180.4)
FAKE = {
    "text_generation-shakespeare": TEXT,
    "text_generation": dict(TEXT, rnn=1.574, baseline=1.541, ngram_order=9, heldout_chars=55000,
                            train_seconds=174.0),
    "sentiment": dict(rnn=0.82, baseline=0.852, test_sentences=600, train_seconds=6.2),
    "translate": dict(rnn=24.6, baseline=0.0, heldout_sentences=260, beam_width=4,
                      train_seconds=198.0,
                      scores={"beam": dict(bleu=24.6, exact_match=0.142, char_accuracy=0.524),
                              "greedy": dict(bleu=20.7, exact_match=0.131, char_accuracy=0.5),
                              "copy": dict(bleu=0.0, exact_match=0.0, char_accuracy=0.326)}),
    "music": dict(rnn=2.284, baseline=2.871, higher_is_better=False, held_out_chorales=47,
                  data="music21 Bach chorales, soprano (366 chorales)", train_seconds=42.0),
    "speech": dict(rnn=0.79, baseline=0.487, n_test=600, units=64, train_seconds=32.0,
                   per_speaker={str(i): {} for i in range(6)}),
    "timeseries": dict(rnn=12.5, baseline=27.9, higher_is_better=False, window=24,
                       held_out_years=[1947, 2008], naive_mae=25.4, linear_ar_mae=15.4,
                       train_seconds=3.0),
    "dna": dict(rnn=0.999, baseline=0.962, accuracy_rnn=0.982, accuracy_baseline=0.891,
                n_train=5000, n_val=500, n_test=2297, train_seconds=37.0),
    "activity": dict(rnn=1.0, baseline=0.725, n_test=40, units=32, train_seconds=5.0),
    "activity-gunpoint": dict(rnn=0.967, baseline=0.913, n_test=150, units=32, train_seconds=21.0),
    "captioning": dict(rnn=0.969, baseline=0.96, n_test=450, train_seconds=4.0),
    "vanishing_gradients": dict(T=100, units=32, baseline=0.167, train_seconds=33.0,
                                simple_rnn=dict(mse=0.161, ratio_after=0.0),
                                lstm=dict(mse=0.0009, ratio_after=0.06)),
    "exploding_gradients": dict(gain=2.0, clip="global_clipnorm", train_seconds=7.5,
                                without_clipping=dict(diverged_epoch=1, diverged_update=8,
                                                      largest_norm=5.7e23),
                                with_clipping=dict(diverged_epoch=None, mse=0.0048)),
    "addition": dict(exact_match=0.9996, n_correct=4998, n_val=5000, train_seconds=510.0),
    "custom_cell": dict(rnn=0.0016539, baseline=0.1666667, higher_is_better=False, T=30,
                        gradient_check_error=6.33e-10, train_seconds=7.0),
}


def _write_runs(runs, fake=FAKE):
    for key, metrics in fake.items():
        (runs / key).mkdir(parents=True)
        (runs / key / "metrics.json").write_text(json.dumps(metrics))
    (runs / "gallery.json").write_text(json.dumps(dict(commit="abc1234", date="2026-12-04")))


def test_every_row_has_a_fake_run_and_an_example_script():
    assert {row.key for row in gallery.all_rows()} == set(FAKE)
    scripts = cli_examples.find_examples(ROOT / "examples")
    assert {row.script for row in gallery.all_rows()} <= set(scripts)
    unshown = sorted(set(scripts) - {row.script for row in gallery.all_rows()})
    assert not unshown, (f"examples with no row in the README gallery: {unshown}; add a Row to "
                         "rnnkit/cli/gallery.py (and a fake run here)")


@pytest.fixture
def readme(tmp_path):
    """A copy of the checkout's README."""
    path = tmp_path / "README.md"
    path.write_text((ROOT / "README.md").read_text(encoding="utf-8"), encoding="utf-8")
    return path


def _between(text, name):
    return text.split(gallery.MARK.format("start", name))[1].split(
        gallery.MARK.format("end", name))[0]


def test_the_tables_are_rewritten_from_metrics_and_nothing_else_changes(tmp_path, readme):
    runs = tmp_path / "runs"
    _write_runs(runs)
    before = readme.read_text(encoding="utf-8")
    after = gallery.rewrite_readme(readme, runs)
    table = _between(after, "applications")
    assert "of commit abc1234 (2026-12-04)" in table.replace("\n", " ")
    assert ("| text generation | `text_generation.py --data ../shared/data/tinyshakespeare.txt` | "
            "tinyshakespeare; last 5 % (54,400 chars) | LSTM(256), 8 epochs: 2.321 bits/char | "
            "Kneser–Ney 6-gram: **2.311** (ahead by 0.010) | 3.0 min | `bits_per_char.png` |"
            ) in table
    assert ("| speech | `speech.py` | FSDD, 600 spoken digits, 6 speakers; leave-one-speaker-out "
            "| MFCC → Bidirectional(GRU(64)): accuracy **0.790** | nearest centroid on mean "
            "MFCC: 0.487 | 32 s | `speech.png` |") in table
    assert "| time series | `timeseries.py` |" in table and "MAE **12.5**" in table
    assert "(persistence 25.4, linear AR 15.4)" in table
    assert "BLEU **24.6**, exact 14.2 %, char acc 52.4 % (greedy: 20.7, 13.1 %, 50.0 %)" in table
    assert "| activity (video-tracked) | `activity.py --dataset gunpoint` |" in table
    assert table.count("\n| ") == 1 + len(gallery.APPLICATIONS)           # header and rows
    grads = _between(after, "gradients")
    assert ("| `addition.py` | Keras's addition_rnn: LSTM → RepeatVector → LSTM → "
            "TimeDistributed(Dense) | 99.96 % exact match (4998/5000) | — | 8.5 min |") in grads
    assert ("without clipping: NaN at epoch 1, update 8 (gradient norm 5.7e23); with "
            "`global_clipnorm=1`: MSE 0.0048") in grads
    assert "SimpleRNN 0 (underflow), LSTM 6e-2" in grads and "predict the mean: 0.167" in grads
    # outside the markers, the README is what it was
    for name in ("applications", "gradients"):
        after = after.replace(_between(after, name), "")
        before = before.replace(_between(before, name), "")
    assert after == before
    assert gallery.rewrite_readme(readme, runs) == readme.read_text(encoding="utf-8")  # stable


def test_the_winner_is_bold_either_way():
    up = dict(rnn=0.9, baseline=0.8)
    assert gallery.duel(up, ".2f", "rnn:", "base:") == ("rnn: **0.90**", "base: 0.80")
    down = dict(rnn=0.9, baseline=0.8, higher_is_better=False)
    assert gallery.duel(down, ".2f", "rnn:", "base:") == ("rnn: 0.90",
                                                          "base: **0.80** (ahead by 0.10)")


def test_a_missing_run_leaves_the_readme_alone_and_names_the_command(tmp_path, readme):
    runs = tmp_path / "runs"
    _write_runs(runs, {k: v for k, v in FAKE.items() if k != "activity-gunpoint"})
    before = readme.read_text(encoding="utf-8")
    with pytest.raises(OSError, match=r"activity-gunpoint.*activity.py --dataset gunpoint --out"):
        gallery.rewrite_readme(readme, runs)
    assert readme.read_text(encoding="utf-8") == before


def test_markers_must_be_there_once(tmp_path):
    with pytest.raises(ValueError, match="gallery:start gradients"):
        gallery.replace_block("no markers here", "gradients", "x")


def test_run_all_runs_each_row_into_its_folder_and_reports_failures(tmp_path):
    calls = []

    def fake_run(folder, name, argv):
        calls.append((name, argv))
        return 2 if name == "dna" else 0

    rows = [row for _, row in gallery.APPLICATIONS[:2]] + [gallery.APPLICATIONS[7][1]]
    failed = gallery.run_all(ROOT / "examples", tmp_path, rows, fake_run, print_fn=lambda s: None)
    assert failed == ["dna"]
    assert calls[0] == ("text_generation", ["--data", "../shared/data/tinyshakespeare.txt",
                                            "--out", str(tmp_path / "text_generation-shakespeare")])
    assert json.loads((tmp_path / "gallery.json").read_text())["commit"]


def test_the_command_rewrites_with_no_run(tmp_path, readme):
    runs = tmp_path / "runs"
    _write_runs(runs)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    done = subprocess.run([sys.executable, "-m", "rnnkit", "examples", "gallery", "--no-run",
                           "--runs", str(runs), "--readme", str(readme)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "of commit abc1234" in readme.read_text(encoding="utf-8")
    bad = subprocess.run([sys.executable, "-m", "rnnkit", "examples", "gallery", "--only", "nope",
                          "--runs", str(runs), "--readme", str(readme)],
                         capture_output=True, text=True, env=env, timeout=120)
    assert bad.returncode == 1 and "gallery: no row nope" in bad.stderr
