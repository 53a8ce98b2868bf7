"""Real time series for forecasting: the yearly sunspot numbers shipped with ``statsmodels``.

``statsmodels`` (the optional extra ``rnnkit[timeseries]``) carries, inside its package, the
file ``statsmodels/datasets/sunspots/sunspots.csv``: the yearly mean sunspot number ("Wolfer
number", SIDC's version 1 series) for 1700 to 2008, 309 values, with the ~11-year solar cycle
plainly visible. It is read here as the CSV file it is (two columns, a header line), without
importing pandas.

>>> years, values = load_sunspots()                        # doctest: +SKIP
>>> len(years), int(years[0]), int(years[-1]), float(values[0])   # doctest: +SKIP
(309, 1700, 2008, 5.0)
"""

import csv
import math
from pathlib import Path

import numpy as np

from .sources import MissingDataError, require_package

SUNSPOTS_MEMBER = Path("datasets") / "sunspots" / "sunspots.csv"


def read_series_csv(path, time_column, value_column):
    """``(times, values)`` of a CSV file with a header line: float64 (N,) and float32 (N,).

    The columns are named by their header (quotes allowed). An empty value is read as NaN.
    Raises MissingDataError when the file is absent and ValueError, naming the file and line,
    when the header lacks a column or a field is not a number.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingDataError(f"{path}: no such file (expected a CSV with columns "
                               f"{time_column!r} and {value_column!r})")
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = csv.reader(f)
        header = [h.strip() for h in next(rows, [])]
        missing = [c for c in (time_column, value_column) if c not in header]
        if missing:
            raise ValueError(f"{path}:1: expected columns {time_column!r} and {value_column!r} "
                             f"in the header, got {header}")
        t_col, v_col = header.index(time_column), header.index(value_column)
        times, values = [], []
        for lineno, row in enumerate(rows, 2):
            if not row or not any(field.strip() for field in row):
                continue
            try:
                t = float(row[t_col])
                v = float(row[v_col]) if row[v_col].strip() else math.nan
            except (ValueError, IndexError):
                raise ValueError(f"{path}:{lineno}: expected numbers in columns {time_column!r} "
                                 f"and {value_column!r}, got {','.join(row)[:60]!r}") from None
            times.append(t)
            values.append(v)
    if not times:
        raise ValueError(f"{path}: no data lines after the header")
    return np.array(times, dtype=np.float64), np.array(values, dtype=np.float32)


def load_sunspots(path=None):
    """``(years, values)``: int64 (309,) 1700..2008 and float32 (309,) yearly sunspot numbers.

    Args:
        path: a ``sunspots.csv`` (columns ``YEAR``, ``SUNACTIVITY``); default: the one inside
            the installed ``statsmodels`` package.

    Raises MissingDataError (one line: what to install or pass) when the file or statsmodels
    is absent, and ValueError when the years do not run one by one without a gap.
    """
    if path is None:
        statsmodels = require_package("statsmodels", "timeseries", what="sunspot series")
        path = Path(statsmodels.__file__).parent / SUNSPOTS_MEMBER
        if not path.is_file():
            raise MissingDataError(f"{path}: this statsmodels has no sunspots.csv; install "
                                   "statsmodels >= 0.10 or pass the file's path")
    years, values = read_series_csv(path, "YEAR", "SUNACTIVITY")
    if np.any(years != np.round(years)) or np.any(np.diff(years) != 1):
        raise ValueError(f"{path}: expected consecutive whole years, got "
                         f"{years[:3].tolist()}...{years[-2:].tolist()}")
    if np.isnan(values).any():
        raise ValueError(f"{path}: {int(np.isnan(values).sum())} years have no value")
    return years.astype(np.int64), values
