"""rnnkit.datasets.sentiment: the UCI Sentiment Labelled Sentences reader, on the real files and
on files written in the same format."""

import os

import numpy as np
import pytest

from rnnkit.datasets.sentiment import FILES, load_sentiment_sentences


def test_reads_the_real_three_files(shared_data):
    texts, labels = load_sentiment_sentences(os.path.join(shared_data,
                                                          "sentiment_labelled_sentences"))
    assert len(texts) == 3000 and labels.dtype == np.int64
    assert labels.sum() == 1500 and set(labels.tolist()) == {0, 1}
    for k in range(3):                                  # each file: 500 + 500, in file order
        assert labels[1000 * k:1000 * (k + 1)].sum() == 500
    assert all(t and "\t" not in t and t == t.strip() for t in texts)
    assert texts[0].startswith("A very, very, very slow-moving")          # imdb's first line


def _write(folder, lines_by_file):
    for name, lines in lines_by_file.items():
        (folder / name).write_text("".join(lines), encoding="utf-8")


def test_format_tab_label_blank_lines_and_tabs_inside(tmp_path):
    _write(tmp_path, {"a.txt": ["Great phone.\t1\n", "\n", "Bad\tvery bad.  \t0\n"],
                      "b.txt": ["Meh.\t0"]})                   # no final newline
    texts, labels = load_sentiment_sentences(tmp_path, sources=("a.txt", "b.txt"))
    assert texts == ["Great phone.", "Bad\tvery bad.", "Meh."]   # the label is the last field
    assert labels.tolist() == [1, 0, 0]


def test_missing_folder_names_the_files_and_what_to_pass(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        load_sentiment_sentences(tmp_path / "nowhere")
    msg = str(e.value)
    assert "\n" not in msg and "pass its path" in msg
    assert all(name in msg for name in FILES)


def test_bad_line_names_file_and_line(tmp_path):
    _write(tmp_path, {"a.txt": ["Fine.\t1\n", "no label here\n"]})
    with pytest.raises(ValueError, match=r"a.txt:2: expected 'sentence<TAB>0\|1'"):
        load_sentiment_sentences(tmp_path, sources=("a.txt",))
    _write(tmp_path, {"a.txt": ["Fine.\t2\n"]})
    with pytest.raises(ValueError, match=r"a.txt:1:"):
        load_sentiment_sentences(tmp_path, sources=("a.txt",))
