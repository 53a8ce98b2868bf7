"""examples/dna.py --quick: runs end to end on the real janggu wheel and reports sane numbers."""

import math
import sys
from pathlib import Path

import numpy as np

import rnnkit
from example_runner import EXAMPLES, assert_png, run_quick

sys.path.insert(0, str(EXAMPLES))
import dna  # noqa: E402  (the example's helpers: roc_auc, roc_curve, k-mer features)


def test_dna_quick(tmp_path):
    stdout, m = run_quick("dna", tmp_path)
    assert m["metric"] == "AUC" and m["higher_is_better"] is True
    for key in ("rnn", "baseline", "accuracy_rnn", "accuracy_baseline"):   # numbers, not NaN
        assert 0.0 <= m[key] <= 1.0 and math.isfinite(m[key]), (key, m[key])
    # the k-mer baseline is fitted to convergence: far above chance even on the quick slice
    # (AUC 0.930-0.951 over seeds 0-4; seed 0: 0.939)
    assert m["baseline"] > 0.9
    # One epoch of GRU(8) on 600 sequences learns nothing measurable: held-out AUC 0.44-0.63
    # over seeds 0-4, chance. The quick run checks the pipeline and files; the full run's AUC
    # 0.999 is in the README gallery (rnnkit examples gallery).
    assert m["n_test"] > 100 and m["test_chromosomes"] == ["chr1", "chr3"]
    assert m["train_seconds"] > 0
    assert "held-out accuracy: rnn" in stdout
    assert_png(tmp_path / "roc.png")
    model = rnnkit.load_model(tmp_path / "model.rnnkit")
    x = np.eye(4, dtype=np.float32)[np.random.default_rng(0).integers(0, 4, (3, 200))]
    p = model.predict(x, verbose=0)
    assert p.shape == (3, 1) and np.all((p > 0) & (p < 1))


def test_roc_auc_against_pairs_and_ties():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    s = np.round(rng.normal(size=200) + y, 1)                        # many ties
    pos, neg = s[y == 1], s[y == 0]
    pairs = (pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean()
    assert abs(dna.roc_auc(y, s) - pairs) < 1e-12
    fpr, tpr = dna.roc_curve(y, s)
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0, 0, 1, 1)
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)


def test_kmer_features_are_strand_symmetric_frequencies():
    from rnnkit.datasets.fasta import one_hot_dna
    x = one_hot_dna(["ACGTTGCAAGNT", "TTTTTTTTTTTT"])
    f = dna.kmer_features(x)
    assert f.shape == (2, 32 + 136 + 512)
    np.testing.assert_allclose(f, dna.kmer_features(dna.reverse_complement(x)))
    # "TTT..." holds one canonical 3-mer (AAA/TTT) in every window
    assert f[1, :32].max() == 1.0 and np.count_nonzero(f[1]) == 3
    assert f[0, :32].sum() < 1.0                                     # windows with N not counted


def test_logistic_regression_converges_to_the_optimum():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(300, 5))
    y = (a @ [1.0, -2.0, 0.5, 0.0, 0.0] + rng.logistic(size=300) > 0).astype(float)
    w = dna.fit_logistic(a, y, l2=0.01)
    p = dna.predict_logistic(w, a)
    a1 = np.hstack([a, np.ones((300, 1))])
    grad = a1.T @ (p - y) / 300 + 0.01 * np.r_[w[:-1], 0.0]
    assert np.abs(grad).max() < 1e-8                                 # stationary: the optimum
    assert w[1] < -1.0 < 0.5 < w[0]


def test_missing_wheel_is_one_line_and_status_2(tmp_path):
    import os
    import subprocess
    env = dict(os.environ, RNNKIT_DATA=str(tmp_path))
    r = subprocess.run([sys.executable, str(EXAMPLES / "dna.py"), "--quick", "--out",
                        str(tmp_path / "out")], capture_output=True, text=True, env=env,
                       cwd=Path(EXAMPLES).parent, timeout=120)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "pip download --no-deps janggu==0.10.2" in r.stderr
