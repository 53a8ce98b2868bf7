"""``rnnkit view``: a browser page for a run's training and for its hidden cells.

    rnnkit view DIR [DIR2 ...] [--port 8765] [--host 127.0.0.1] [--export page.html]

* :mod:`.run` reads a run folder (``log.jsonl`` from :class:`rnnkit.training.callbacks.RunLog`,
  ``state.json``, ``model.rnnkit``, ``vocab.json``, ``heldout.txt``).
* :mod:`.cells` computes every state and gate of LSTM / GRU / SimpleRNN layers per character;
  :mod:`.reader` runs a whole model over a text (and samples); :mod:`.features` ranks units by
  correlation with features of the text.
* :mod:`.app` answers the page's questions; :mod:`.server` serves them with the standard
  library's ``http.server`` or writes one self-contained HTML file (``static/`` holds the page).

See docs/view.md.
"""

from .app import ViewApp, ViewError
from .cells import KINDS, step_layer, step_trace, trace_layer
from .features import FEATURES, rank_units, text_features
from .reader import CellReader, Reading
from .run import Run, read_curves
from .server import export_page, make_server, page_html

__all__ = [
    "CellReader", "FEATURES", "KINDS", "Reading", "Run", "ViewApp", "ViewError", "export_page",
    "make_server", "page_html", "rank_units", "read_curves", "step_layer", "step_trace",
    "text_features", "trace_layer",
]
