"""rnnkit view in a real headless Chromium (Debian's ``chromium``), driven by Playwright for
Python with the system browser (no browser download). Skipped, with the reason, where either
is missing; ``make test`` installs chromium with apt-get when it can (``make browser``).
"""

import os
import shutil
import threading

import numpy as np
import pytest

from rnnkit.view import export_page, make_server, step_trace
from view_runs import QUOTE_TEXT, QUOTE_UNIT, make_run, write_log

sync_api = pytest.importorskip("playwright.sync_api",
                               reason="Playwright for Python is not installed "
                                      "(pip install 'rnnkit[test]')")

CHROMIUM = os.environ.get("RNNKIT_CHROMIUM") or next(
    (p for p in (shutil.which("chromium"), shutil.which("chromium-browser"), "/usr/bin/chromium")
     if p and os.path.exists(p)), None)
if CHROMIUM is None:
    pytest.skip("no chromium on this machine (apt-get install chromium; `make browser`)",
                allow_module_level=True)
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        except Exception as e:                     # a browser that does not start here
            pytest.skip(f"chromium at {CHROMIUM} does not start: {str(e).splitlines()[0]}")
        yield b
        b.close()


class _Served:
    def __init__(self, folders):
        self.server = make_server(folders, port=0)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("view")
    quote, quote_vocab = make_run(str(root / "quote"), "quote")
    stacked, stacked_vocab = make_run(str(root / "stacked"), "stacked")
    served = _Served([str(root / "quote"), str(root / "stacked")])
    yield {"root": root, "quote": quote, "stacked": stacked, "vocab": quote_vocab,
           "url": served.url}
    served.close()


def _open(browser, url, **context):
    ctx = browser.new_context(viewport={"width": 1300, "height": 900}, **context)
    page = ctx.new_page()
    page.errors = []
    page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
    page.on("pageerror", lambda e: page.errors.append(f"page error: {e}"))
    page.goto(url)
    page.wait_for_selector("body[data-state=ready]", timeout=30_000)
    return page


def _wait_unit(page, layer, kind, unit):
    page.wait_for_function(
        "([l, k, u]) => { const d = document.getElementById('text-view').dataset;"
        " return d.state === 'ready' && d.layer == l && d.kind === k && d.unit == u; }",
        arg=[layer, kind, unit], timeout=20_000)


def _choose(page, layer, kind, unit):
    page.select_option("#layer-select", str(layer))
    page.select_option("#kind-select", kind)
    page.fill("#unit-input", str(unit))
    page.dispatch_event("#unit-input", "change")
    _wait_unit(page, layer, kind, unit)


def _dom_values(page):
    got = page.eval_on_selector_all(
        "#text-view span", "els => els.map(e => [e.textContent, e.dataset.v, "
                           "getComputedStyle(e).backgroundColor])")
    scale = float(page.get_attribute("#text-view", "data-scale"))
    return got, scale


def _colour(v, scale):
    t = max(-1.0, min(1.0, v / scale))
    c = round(255 * (1 - t)) if t >= 0 else round(255 * (1 + t))
    return (255, c, c) if t >= 0 else (c, c, 255)


def test_served_page_loads_without_console_errors(browser, runs):
    page = _open(browser, runs["url"])
    assert page.errors == []
    assert page.locator("#chart-loss circle[data-series=val_loss]").count() == 4   # 2 runs x 2
    assert page.locator("#text-view span").count() == len(QUOTE_TEXT)
    assert page.locator("#samples pre").count() == 4
    assert page.locator("#messages div").count() == 0
    page.context.close()


def test_exported_file_works_offline(browser, runs, tmp_path):
    path = tmp_path / "page.html"
    assert export_page([str(runs["root"] / "quote")], str(path)) == []
    requests = []
    ctx = browser.new_context(offline=True)
    ctx.route("**/*", lambda route: (requests.append(route.request.url),
                                     route.continue_() if route.request.url.startswith("file:")
                                     else route.abort()))
    page = ctx.new_page()
    errors = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.as_uri())
    page.wait_for_selector("body[data-state=ready]", timeout=30_000)
    assert errors == [] and all(u.startswith("file:") for u in requests), (errors, requests)
    assert page.locator("#chart-loss circle[data-series=loss]").count() == 2
    _choose(page, 0, "c", QUOTE_UNIT)
    got, scale = _dom_values(page)
    assert len(got) == len(QUOTE_TEXT)
    assert "Sampling" in page.text_content("#sampling-reason") or \
        "exported" in page.text_content("#sampling-reason")
    ctx.close()


def test_colours_are_the_activations_of_layer_forward(browser, runs):
    page = _open(browser, runs["url"])
    page.select_option("#run-select", "1")                        # the stacked LSTM -> GRU run
    page.wait_for_function("document.getElementById('text-view').dataset.state === 'ready'"
                           " && document.getElementById('layer-select').options.length === 2")
    model, vocab = runs["stacked"], runs["vocab"]
    emb, lstm, _, gru, _ = model.layers
    ids = vocab.encode(QUOTE_TEXT)[None]
    h0 = lstm.forward(emb.forward(ids))                           # (1, T, 6)
    h1 = gru.forward(h0)                                          # (1, T, 5)
    expected = {(0, "h", 4): h0[0, :, 4], (1, "h", 2): h1[0, :, 2],
                (0, "c", 1): step_trace(lstm, emb.forward(ids)[0])["c"][:, 1],
                (1, "z", 0): step_trace(gru, h0[0])["z"][:, 0]}
    for (layer, kind, unit), want in expected.items():
        _choose(page, layer, kind, unit)
        got, scale = _dom_values(page)
        assert "".join(ch for ch, _, _ in got) == QUOTE_TEXT       # real DOM text
        values = np.array([float(v) for _, v, _ in got])
        np.testing.assert_allclose(values, want, rtol=0, atol=1e-5, err_msg=f"{layer}{kind}{unit}")
        for (_, v, bg), w in zip(got, want):
            rgb = tuple(int(c) for c in bg[bg.index("(") + 1:bg.index(")")].split(","))
            assert all(abs(a - b) <= 1 for a, b in zip(rgb, _colour(float(w), scale))), (v, bg)
    assert page.errors == []
    page.context.close()


def test_find_cells_puts_the_planted_quote_cell_first(browser, runs):
    page = _open(browser, runs["url"])
    page.select_option("#feature-select", "quotes")
    page.click("#rank-button")
    page.wait_for_selector("#rank-list[data-state=ready] li")
    first = page.locator("#rank-list li").first
    assert (first.get_attribute("data-layer"), first.get_attribute("data-unit")) == \
        ("0", str(QUOTE_UNIT))
    assert float(first.get_attribute("data-corr")) > 0.95
    first.click()                                                 # shows that unit
    _wait_unit(page, 0, first.get_attribute("data-kind"), QUOTE_UNIT)
    assert page.errors == []
    page.context.close()


def test_hover_shows_the_five_likeliest_next_characters(browser, runs):
    page = _open(browser, runs["url"])
    model, vocab = runs["quote"], runs["vocab"]
    logits = model.predict(vocab.encode(QUOTE_TEXT)[None], verbose=0)[0].astype(np.float64)
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    for pos in (0, 9, 40):
        page.hover(f"#text-view span[data-i='{pos}']")
        page.wait_for_function(f"(() => {{ const t = document.getElementById('tooltip');"
                               f" return t.dataset.pos == {pos} && t.dataset.state === 'ready'"
                               f" && t.querySelectorAll('.top-row').length === 5; }})()")
        rows = page.eval_on_selector_all("#tooltip .top-row",
                                         "els => els.map(e => [e.dataset.char, e.dataset.p])")
        probs = np.array([float(q) for _, q in rows])
        assert probs.sum() <= 1 + 1e-9 and np.all(np.diff(probs) <= 0)
        want = np.argsort(-p[pos], kind="stable")[:5]
        assert [c for c, _ in rows] == [vocab.id_to_token(int(i)) for i in want]
        np.testing.assert_allclose(probs, p[pos, want], rtol=0, atol=1e-6)
    assert page.errors == []
    page.context.close()


def test_sampling_colours_characters_as_they_come(browser, runs):
    page = _open(browser, runs["url"])
    _choose(page, 0, "c", QUOTE_UNIT)
    page.fill("#prime-input", 'x = "')
    page.fill("#length-input", "40")
    page.fill("#seed-input", "3")
    page.click("#sample-button")
    page.wait_for_selector("#sample-view[data-state=done]", timeout=30_000)
    spans = page.eval_on_selector_all("#sample-view span", "els => els.map(e => "
                                      "[e.textContent, +e.dataset.v, e.style.backgroundColor])")
    assert len(spans) == 40 and all(bg for _, _, bg in spans)
    assert all(abs(abs(v) - 1) < 1e-2 for _, v, _ in spans)       # the quote cell is +-1
    assert page.errors == []
    page.context.close()


def test_live_update_adds_a_point_without_reload(browser, tmp_path):
    make_run(str(tmp_path / "live"), "quote", epochs=2)
    served = _Served([str(tmp_path / "live")])
    try:
        page = _open(browser, served.url)
        page.evaluate("window.__sameDocument = true")
        dots = "#chart-loss circle[data-series=val_loss]"
        assert page.locator(dots).count() == 2
        write_log(str(tmp_path / "live"), 1, start=3)               # the run finishes epoch 3
        page.wait_for_function(f"document.querySelectorAll('{dots}').length === 3",
                               timeout=15_000)
        assert page.evaluate("window.__sameDocument") is True      # no reload
        assert page.errors == []
        page.context.close()
    finally:
        served.close()


def test_bad_input_gives_clear_messages(browser, runs, tmp_path, capfd):
    page = _open(browser, runs["url"])
    page.fill("#text-input", 'say "été" ok')                      # é and t are not in the vocab
    page.click("#read-button")
    page.wait_for_selector("#messages .msg-warning")
    assert "not in the model's vocabulary" in page.text_content("#messages")
    page.fill("#unit-input", "99")
    page.dispatch_event("#unit-input", "change")
    page.wait_for_selector("#messages .msg-error")
    assert "has units 0..3, not 99" in page.text_content("#messages")
    assert "Traceback" not in page.content()
    assert "rnnkit view: error: layer 0" in capfd.readouterr().err
    page.context.close()
    # a folder that is not a run, and a run whose model file is corrupted
    (tmp_path / "empty").mkdir()
    make_run(str(tmp_path / "broken"))
    with open(tmp_path / "broken" / "model.rnnkit", "r+b") as f:
        f.seek(8)
        f.write(b"{garbage" * 8)
    served = _Served([str(tmp_path / "empty"), str(tmp_path / "broken")])
    try:
        page = _open(browser, served.url)
        text = page.text_content("#messages")
        assert "not a run folder" in text and "cannot read the model file" in text
        assert page.is_visible("#cells-reason") and not page.is_visible("#cells-ui")
        assert page.locator("#chart-loss circle[data-series=val_loss]").count() == 2
        assert "Traceback" not in page.content() and page.errors == []
        page.context.close()
    finally:
        served.close()
    err = capfd.readouterr().err
    assert "not a run folder" in err and "cannot read the model file" in err
