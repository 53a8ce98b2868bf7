"""Simple features of a text, one number per character, and the units that follow them.

Every feature is the value *after reading* character t (what a cell could know then)::

    quotes      1 inside '...' or "..." (the opening quote included, the closing one not)
    brackets    depth of ( [ { nesting (the opening bracket included, the closing one not)
    line_pos    characters since the last newline (0 at the newline itself)
    word_start  1 at a letter or digit that follows none
    upper       1 at an upper-case letter
    digit       1 at a digit
    regex       1 at every character inside a match of a regular expression

:func:`rank_units` ranks every (layer, kind, unit) by the Pearson correlation of its activation
with a feature over the text, strongest (in absolute value) first, as the cells Karpathy et al.
(2015) found by eye: a unit that is +1 inside quotes and -1 outside has correlation ~1 with
``quotes``.

>>> text_features('a "b" (c)')["quotes"].tolist()
[0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]
>>> text_features('a "b" (c)')["brackets"].tolist()
[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0]
"""

import re

import numpy as np

FEATURES = {
    "quotes": "inside quotes",
    "brackets": "bracket depth",
    "line_pos": "position in line",
    "word_start": "start of word",
    "upper": "upper case",
    "digit": "digit",
    "regex": "regular expression",
}
_OPEN, _CLOSE = "([{", ")]}"


def text_features(text, regex=None):
    """``{name: (T,) float64}`` for every feature (``regex`` only when a pattern is given)."""
    T = len(text)
    quotes, brackets, line_pos = np.zeros(T), np.zeros(T), np.zeros(T)
    quote, depth, pos, prev_word = None, 0, 0, False
    for t, ch in enumerate(text):
        if quote is None and ch in "'\"":
            quote = ch                            # opens: the quote char counts as inside
            quotes[t] = 1.0
        elif quote is not None:
            if ch == quote:
                quote = None                      # closes: the quote char counts as outside
            else:
                quotes[t] = 1.0
        if ch in _OPEN:
            depth += 1
        elif ch in _CLOSE and depth:
            depth -= 1
        brackets[t] = depth
        pos = 0 if ch == "\n" else pos + 1
        line_pos[t] = pos
    chars = np.array(list(text), dtype="<U1") if T else np.zeros(0, dtype="<U1")
    alnum = np.char.isalnum(chars)
    word_start = alnum & ~np.concatenate([[False], alnum[:-1]]) if T else alnum
    out = {"quotes": quotes, "brackets": brackets, "line_pos": line_pos,
           "word_start": word_start.astype(float), "upper": np.char.isupper(chars).astype(float),
           "digit": np.char.isdigit(chars).astype(float)}
    if regex:
        out["regex"] = regex_feature(text, regex)
    return out


def regex_feature(text, pattern):
    """1.0 at every character inside a match of ``pattern`` (ValueError for a bad pattern)."""
    if len(pattern) > 500:
        raise ValueError("the regular expression is longer than 500 characters")
    try:
        rx = re.compile(pattern)
    except re.error as e:
        raise ValueError(f"bad regular expression {pattern!r}: {e}") from None
    f = np.zeros(len(text))
    for m in rx.finditer(text):
        f[m.start():m.end()] = 1.0
    return f


def rank_units(traces, feature, top=20):
    """Units ranked by |correlation| with ``feature`` (T,), strongest first.

    Args:
        traces: one ``{kind: (T, H)}`` per layer (:attr:`Reading.traces`).
        feature: (T,) values.
        top: how many to return.

    Returns:
        ``[{"layer", "kind", "unit", "corr"}]``; ValueError if the feature is constant.
    """
    f = np.asarray(feature, np.float64)
    fc = f - f.mean()
    fn = np.sqrt(fc @ fc)
    if fn == 0:
        raise ValueError("this feature has the same value at every character of the text, so "
                         "no unit can be correlated with it; try a text where it varies")
    found = []
    for k, trace in enumerate(traces):
        for kind, a in trace.items():
            a = np.asarray(a, np.float64)                             # (T, H)
            ac = a - a.mean(axis=0)
            an = np.sqrt((ac * ac).sum(axis=0))                       # (H,)
            with np.errstate(invalid="ignore", divide="ignore"):
                corr = (fc @ ac) / (fn * an)
            corr = np.where(an > 1e-12, corr, 0.0)
            for u in np.argsort(-np.abs(corr), kind="stable")[:top]:
                found.append({"layer": k, "kind": kind, "unit": int(u), "corr": float(corr[u])})
    found.sort(key=lambda d: -abs(d["corr"]))
    return found[:top]
