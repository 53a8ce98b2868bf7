"""The FASTA reader and the Oct4/MafK loader, on the janggu wheel's real files and on bad ones.

The wheel is found where rnnkit looks for it (``$RNNKIT_DATA/wheels``; ``make test`` downloads
it); the tests that need it skip with the reason when it is absent. Caches go to a temporary
folder.
"""

import zipfile

import numpy as np
import pytest

from rnnkit.datasets.dna import (DNA_CLASS_NAMES, DNA_FILES, chromosome_split,
                                 load_dna_binding)
from rnnkit.datasets.fasta import one_hot_dna, read_fasta
from rnnkit.datasets.sources import MissingDataError, find_wheel


@pytest.fixture
def janggu_wheel(tmp_path, monkeypatch):
    """The real janggu wheel (or skip); the parse cache is redirected to tmp_path."""
    try:
        wheel = find_wheel("janggu", "0.10.2")
    except MissingDataError as e:
        pytest.skip(str(e))
    monkeypatch.setenv("RNNKIT_DATA", str(tmp_path / "data_home"))
    return wheel


# --- read_fasta ---------------------------------------------------------------------------

def test_read_fasta_multiline_blank_lines_lowercase_and_n():
    text = ">seq one  \nACgt\n\nnnAC\n;a comment\n>two\n\nTTTT\n"
    assert read_fasta(text) == [("seq one", "ACGTNNAC"), ("two", "TTTT")]


def test_read_fasta_from_path_and_bytes(tmp_path):
    p = tmp_path / "x.fa"
    p.write_text(">a\nAC\nGT\n")
    assert read_fasta(p) == [("a", "ACGT")]
    assert read_fasta(str(p)) == [("a", "ACGT")]
    assert read_fasta(b">a\r\nAC\r\n") == [("a", "AC")]


@pytest.mark.parametrize("text, where, what", [
    ("ACGT\n>a\nAC\n", ":1:", "before the first '>' header"),
    (">a\nACGT\nAC1T\n", ":3:", "not a nucleotide letter: '1'"),
    (">a\nAC\n>\nAC\n", ":3:", "empty header"),
    (">a\n\n>b\nAC\n", ":1:", "record 'a' has no sequence"),
    (">a\nAC\n>b\n", ":3:", "record 'b' has no sequence"),
])
def test_read_fasta_errors_name_the_line(text, where, what):
    with pytest.raises(ValueError) as e:
        read_fasta(text, name="bad.fa")
    assert f"bad.fa{where}" in str(e.value) and what in str(e.value)


def test_one_hot_dna_codes_and_unequal_lengths():
    x = one_hot_dna(["ACGTN", "uuaaR"])
    assert x.shape == (2, 5, 4) and x.dtype == np.float32
    assert x[0].argmax(-1)[:4].tolist() == [0, 1, 2, 3] and x[0, 4].sum() == 0
    assert x[1].argmax(-1)[:4].tolist() == [3, 3, 0, 0] and x[1, 4].sum() == 0
    with pytest.raises(ValueError, match="sequence 1 has length 2, the first has 3"):
        one_hot_dna(["ACG", "AC"])


# --- load_dna_binding on the real wheel ---------------------------------------------------

def test_load_dna_binding_real_wheel(janggu_wheel, tmp_path):
    x, y, headers = load_dna_binding(janggu_wheel)
    assert x.shape == (7797, 200, 4) and x.dtype == np.float32
    assert np.bincount(y).tolist() == [3897, 3900]                  # sample.fa, sample2.fa
    assert DNA_CLASS_NAMES == ("Oct4", "MafK")
    assert headers[0] == "chr1:15710957-15711157"
    assert np.all(x.sum(-1) == 1)                                   # these files have no N
    # the first sequence of sample.fa starts CACAGCAG
    assert "".join("ACGT"[i] for i in x[0, :8].argmax(-1)) == "CACAGCAG"
    # the octamer (Oct4) and the MARE half-site (MafK) are where the labels say
    seqs = ["".join("ACGT"[i] for i in row) for row in x.argmax(-1)]
    octamer = np.array(["ATGCAAAT" in s for s in seqs])
    mare = np.array(["TGCTGA" in s for s in seqs])
    assert octamer[y == 0].mean() > 3 * octamer[y == 1].mean()
    assert mare[y == 1].mean() > 3 * mare[y == 0].mean()
    # a second call reads the cache and gives the same arrays
    assert list((tmp_path / "data_home" / "cache").glob("dna_binding_*.npz"))
    x2, y2, headers2 = load_dna_binding(janggu_wheel)
    np.testing.assert_array_equal(x2, x)
    np.testing.assert_array_equal(y2, y)
    assert headers2 == headers


def test_chromosome_split_holds_out_whole_chromosomes():
    headers = ["chr1:1-201", "chr10:5-205", "chr3:9-209", "chrX:1-201"]
    assert chromosome_split(headers).tolist() == [True, False, True, False]
    assert chromosome_split(headers, ("chrX",)).tolist() == [False, False, False, True]


def test_load_dna_binding_folder_holding_the_wheel(janggu_wheel):
    x, y, _ = load_dna_binding(janggu_wheel.parent)
    assert len(x) == len(y) == 7797


# --- missing and bad sources --------------------------------------------------------------

def test_missing_wheel_says_what_to_run(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNKIT_DATA", str(tmp_path))
    with pytest.raises(MissingDataError) as e:
        load_dna_binding()
    msg = str(e.value)
    assert "pip download --no-deps janggu==0.10.2" in msg and "\n" not in msg
    with pytest.raises(MissingDataError, match="no such file"):
        load_dna_binding(tmp_path / "nowhere.whl")


def test_bad_fasta_in_wheel_names_member_and_line(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNKIT_DATA", str(tmp_path))
    wheel = tmp_path / "janggu-0.10.2-py2.py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr(DNA_FILES[0], ">a\nACGT\n>b\nAC#T\n")
        z.writestr(DNA_FILES[1], ">c\nACGT\n")
    with pytest.raises(ValueError, match=r"sample\.fa:4: not a nucleotide letter"):
        load_dna_binding(wheel, cache=False)


def test_not_a_zip_and_missing_member(tmp_path):
    bad = tmp_path / "janggu-0.10.2-py2.py3-none-any.whl"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a wheel"):
        load_dna_binding(bad, cache=False)
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr(DNA_FILES[0], ">a\nACGT\n")
    with pytest.raises(MissingDataError, match="sample2.fa"):
        load_dna_binding(bad, cache=False)
