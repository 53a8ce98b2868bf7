"""rnnkit.datasets.series: the sunspot series read from statsmodels' own CSV, and the reader."""

import sys

import numpy as np
import pytest

from rnnkit.datasets import sources
from rnnkit.datasets.series import load_sunspots, read_series_csv


def test_load_sunspots_reads_the_statsmodels_file():
    pytest.importorskip("statsmodels", reason="statsmodels (rnnkit[timeseries]) not installed")
    years, values = load_sunspots()
    assert years.dtype == np.int64 and values.dtype == np.float32
    assert len(years) == len(values) == 309
    assert (years[0], years[-1]) == (1700, 2008)
    assert values[:3].tolist() == [5.0, 11.0, 16.0]              # the file's first lines
    assert values.min() >= 0 and 150 < values.max() < 200
    # the ~11-year cycle: the series correlates with itself 11 years on, not 5-6 years on
    z = values - values.mean()
    corr = [np.corrcoef(z[:-lag], z[lag:])[0, 1] for lag in (5, 11)]
    assert corr[1] > 0.5 > corr[0]


def test_load_sunspots_from_a_path(tmp_path):
    path = tmp_path / "spots.csv"
    path.write_text('"YEAR","SUNACTIVITY"\n1900,9.5\n1901,2.7\n1902,5\n', encoding="utf-8")
    years, values = load_sunspots(path)
    assert years.tolist() == [1900, 1901, 1902]
    np.testing.assert_allclose(values, [9.5, 2.7, 5.0], rtol=1e-6)


def test_read_series_csv_named_columns_and_empty_values(tmp_path):
    path = tmp_path / "co2.csv"
    path.write_text("date,other,co2\n19580329,x,316.1\n19580405,y,\n\n19580412,z,317.5\n",
                    encoding="utf-8")
    times, values = read_series_csv(path, "date", "co2")
    assert times.tolist() == [19580329, 19580405, 19580412]
    assert values[0] == pytest.approx(316.1) and np.isnan(values[1])


@pytest.mark.parametrize("text, where", [
    ("YEAR,COUNT\n1900,1\n", ":1: expected columns 'YEAR' and 'SUNACTIVITY'"),
    ("YEAR,SUNACTIVITY\n1900,1\n1901,many\n", ":3: expected numbers"),
    ("YEAR,SUNACTIVITY\n1900,1\n1902,3\n", "expected consecutive whole years"),
    ("YEAR,SUNACTIVITY\n1900,1\n1901,\n", "1 years have no value"),
    ("YEAR,SUNACTIVITY\n", "no data lines"),
])
def test_bad_files_are_refused_with_the_file_and_line(tmp_path, text, where):
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match="bad.csv") as e:
        load_sunspots(path)
    assert where in str(e.value)


def test_missing_file_and_missing_package_say_what_to_do(tmp_path, monkeypatch):
    with pytest.raises(sources.MissingDataError, match="nope.csv: no such file"):
        load_sunspots(tmp_path / "nope.csv")

    monkeypatch.setitem(sys.modules, "statsmodels", None)      # import statsmodels fails
    with pytest.raises(sources.MissingDataError) as e:
        load_sunspots()
    assert "statsmodels" in str(e.value) and "rnnkit[timeseries]" in str(e.value)
    assert "\n" not in str(e.value)
