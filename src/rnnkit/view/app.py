"""What the page asks for, as plain functions of JSON-able arguments (the HTTP server and the
exported file both use them; tests call them directly too).

    runs()                          every run's curves, samples, layers (re-read: live updates)
    read(run, text)                 the model reads a text; returns text_id and the warnings
    unit(text_id, layer, kind, u)   one unit's activation per character: base64 float32
    next_chars(text_id, pos)        the five likeliest next characters after position pos
    rank(text_id, feature, regex)   units ranked by correlation with a text feature
    gradient(text_id, layer)        ||dL/dh_t|| through time (rnnkit.diagnostics)
    sample(run, prime, ...)         generated characters with the chosen unit's value, as they come

One unit at a time goes to the page: a 20,000-character text is 80 kB of float32 per unit.
Errors a user can cause raise :class:`ViewError` with a message meant for the page and the
terminal.
"""

import base64
import collections
import hashlib
import threading

import numpy as np

from ..errors import FileFormatError
from .features import FEATURES, rank_units, text_features
from .run import Run


class ViewError(ValueError):
    """A request the page made that cannot be answered; the message says why."""


def b64_float32(a):
    return base64.b64encode(np.ascontiguousarray(a, dtype="<f4").tobytes()).decode("ascii")


def _int(value, what):
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ViewError(f"{what} must be an integer, got {value!r}") from None


def _opt(value, kind, what):
    if value in (None, "", "none"):
        return None
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ViewError(f"{what} must be a number, got {value!r}") from None


class ViewApp:
    """The runs given to ``rnnkit view`` and the texts read so far (the last few kept)."""

    def __init__(self, folders, keep_texts=6):
        self.runs, self.errors = [], []
        for folder in folders:
            try:
                self.runs.append(Run(folder))
            except (ValueError, OSError, FileFormatError) as e:
                self.runs.append(None)
                self.errors.append((folder, " ".join(str(e).split())))
        self._texts = collections.OrderedDict()
        self._keep = keep_texts
        self._lock = threading.Lock()           # layers cache their last forward: one at a time

    # ---- runs ---------------------------------------------------------------------------------
    def messages(self):
        """One line per problem found while opening the runs (also printed in the terminal)."""
        out = [msg for _, msg in self.errors]
        out += [r.model_error for r in self.runs if r is not None and r.model_error]
        return out

    def runs_info(self):
        errors = iter(self.errors)
        out = []
        with self._lock:                       # a model saved since: read it again
            for k, r in enumerate(self.runs):
                if r is not None and r.reload_if_changed():
                    for key in [key for key, (run, _) in self._texts.items() if run == k]:
                        del self._texts[key]
        for r in self.runs:
            if r is None:
                folder, msg = next(errors)
                out.append({"name": folder, "folder": folder, "error": msg})
            else:
                out.append(r.describe())
        return {"runs": out, "signature": "/".join(d.get("signature", "x") for d in out)}

    def _run(self, k):
        k = _int(k, "run")
        if not 0 <= k < len(self.runs) or self.runs[k] is None:
            raise ViewError(f"no readable run number {k}")
        run = self.runs[k]
        if run.reader is None:
            raise ViewError(f"{run.name}: hidden cells are not available: "
                            f"{run.model_error or run.cells_reason}")
        return run

    # ---- texts --------------------------------------------------------------------------------
    def read(self, run, text):
        r = self._run(run)
        if not isinstance(text, str):
            raise ViewError("text must be a string")
        key = hashlib.sha1(f"{run}\0{text}".encode("utf-8", "surrogatepass")).hexdigest()[:16]
        with self._lock:
            if key not in self._texts:
                try:
                    reading = r.reader.read(text)
                except ValueError as e:
                    raise ViewError(str(e)) from None
                self._texts[key] = (int(run), reading)
                while len(self._texts) > self._keep:
                    self._texts.popitem(last=False)
            self._texts.move_to_end(key)
            _, reading = self._texts[key]
        warning = None
        if reading.oov:
            listed = ", ".join(f"{ch!r} (U+{ord(ch):04X}) x{n}" for ch, n in
                               sorted(reading.oov.items(), key=lambda kv: -kv[1])[:8])
            more = len(reading.oov) - 8
            warning = (f"{sum(reading.oov.values())} character(s) of the text are not in the "
                       f"model's vocabulary and are read as [UNK]: {listed}"
                       f"{f' and {more} more' if more > 0 else ''}")
        return {"text_id": key, "length": len(text), "warning": warning,
                "layers": r.reader.layers(), "is_lm": r.reader.is_lm}

    def _reading(self, text_id):
        with self._lock:
            if text_id not in self._texts:
                raise ViewError("that text is no longer held by the server (it keeps the last "
                                f"{self._keep}); read it again")
            return self._texts[text_id]

    def unit(self, text_id, layer, kind, unit):
        k, reading = self._reading(text_id)
        layer, unit = _int(layer, "layer"), _int(unit, "unit")
        try:
            self.runs[k].reader.check_unit(layer, kind, unit)
        except ValueError as e:
            raise ViewError(str(e)) from None
        v = reading.traces[layer][kind][:, unit]
        return {"layer": layer, "kind": kind, "unit": unit, "values": b64_float32(v),
                "min": float(v.min()), "max": float(v.max())}

    def next_chars(self, text_id, pos):
        k, reading = self._reading(text_id)
        pos = _int(pos, "pos")
        if reading.top_ids is None:
            raise ViewError("this model does not predict the next character")
        if not 0 <= pos < len(reading.ids):
            raise ViewError(f"position {pos} is outside the text (0..{len(reading.ids) - 1})")
        vocab = self.runs[k].vocab
        top = [[vocab.id_to_token(int(i)), float(p)]
               for i, p in zip(reading.top_ids[pos], reading.top_probs[pos])]
        return {"pos": pos, "char": reading.text[pos], "top": top}

    def rank(self, text_id, feature, regex=None, top=20):
        _, reading = self._reading(text_id)
        if feature not in FEATURES:
            raise ViewError(f"unknown feature {feature!r}; one of {', '.join(FEATURES)}")
        if feature == "regex" and not regex:
            raise ViewError("type a regular expression to rank units by")
        try:
            f = text_features(reading.text, regex if feature == "regex" else None)[feature]
            return {"feature": feature, "units": rank_units(reading.traces, f, _int(top, "top"))}
        except ValueError as e:
            raise ViewError(str(e)) from None

    def gradient(self, text_id, layer):
        """||dL/dh_t|| of one layer over the text, the loss being next-character prediction."""
        from ..diagnostics import state_gradient_norms
        from ..training import losses

        k, reading = self._reading(text_id)
        run = self.runs[k]
        layer = _int(layer, "layer")
        try:
            run.reader.check_unit(layer, "h", 0)
        except ValueError as e:
            raise ViewError(str(e)) from None
        if not run.reader.is_lm or len(reading.ids) < 2:
            raise ViewError("the gradient through time needs a character language model and a "
                            "text of two characters or more")
        model = run.model
        with self._lock:
            if getattr(model, "compiled_loss", None) is None:
                model.compile(optimizer="adam",
                              loss=losses.SparseCategoricalCrossentropy(from_logits=True))
            norms = state_gradient_norms(model, reading.ids[None, :-1], reading.ids[None, 1:],
                                         layer=run.reader.rnns[layer])
        return {"layer": layer, "values": b64_float32(norms)}

    def sample(self, run, prime, length=200, temperature=1.0, top_k=None, top_p=None, seed=None,
               layer=0, kind="h", unit=0):
        """A generator of ``{"ch", "v"}`` dicts; arguments are checked before the first."""
        r = self._run(run)
        try:
            gen = r.reader.sample(prime, _int(length, "length"),
                                  _opt(temperature, float, "temperature"),
                                  _opt(top_k, int, "top-k"), _opt(top_p, float, "top-p"),
                                  _opt(seed, int, "seed"), _int(layer, "layer"), kind,
                                  _int(unit, "unit"))
            first = next(gen)
        except ValueError as e:
            raise ViewError(str(e)) from None

        def chars():
            yield {"ch": first[0], "v": first[1]}
            for ch, v in gen:
                yield {"ch": ch, "v": v}
        return chars()

    # ---- the exported file --------------------------------------------------------------------
    def export_data(self, max_values=600_000):
        """Everything the page needs without a server: the runs, and for each run with cells
        its default text (cut so that all units of all kinds fit in ``max_values`` floats)."""
        info = self.runs_info()
        for k, (r, d) in enumerate(zip(self.runs, info["runs"])):
            if r is None or r.reader is None:
                continue
            per_char = sum(l["units"] * len(l["kinds"]) for l in r.reader.layers())
            text = r.default_text()[:max(50, max_values // max(per_char, 1))]
            reading = r.reader.read(text)
            d["export"] = {
                "text": text,
                "units": {f"{li}/{kind}": b64_float32(a) for li, trace in
                          enumerate(reading.traces) for kind, a in trace.items()},
                "top": None if reading.top_ids is None else
                [[[r.vocab.id_to_token(int(i)), round(float(p), 6)] for i, p in zip(ids, ps)]
                 for ids, ps in zip(reading.top_ids, reading.top_probs)],
                "rank": {},
            }
            for name, f in text_features(text).items():
                try:
                    d["export"]["rank"][name] = rank_units(reading.traces, f)
                except ValueError as e:
                    d["export"]["rank"][name] = str(e)
        return info
