"""How fast `rnnkit view` shows the hidden cells of a big model over a long text.

A 2-layer LSTM(512) character model (random weights, float32) reads a 20,000-character text
(the Python standard library's source); measured, in the page opened in headless Chromium:

    read    click "Read this text" -> every character coloured (the model reads the text on
            the server: layer.forward of each layer, the next-character probabilities; the page
            builds 20,000 spans; one unit of h sent; gates are computed when first asked for)
    switch  choose another unit -> recoloured (one unit: 80 kB of float32 sent)
    hover   hover a character -> the five likeliest next characters shown

plus the server side alone (CellReader.read) and the size of one unit's answer.

    PYTHONPATH=src python benchmarks/bench_view.py [--chars 20000] [--units 512] [--layers 2]
"""

import argparse
import json
import os
import sys
import tempfile
import threading
import time

import numpy as np

import rnnkit
from rnnkit import layers
from rnnkit.data import CharVocab, stdlib_corpus
from rnnkit.view import make_server
from rnnkit.view.app import ViewApp

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def build_run(folder, n_chars, units, n_layers):
    text = stdlib_corpus(max_bytes=400_000)
    vocab = CharVocab.from_text(text, max_tokens=100)
    stack = [layers.Input((None,), dtype="int32"), layers.Embedding(len(vocab), 64)]
    stack += [layers.LSTM(units, return_sequences=True, seed=k) for k in range(n_layers)]
    model = rnnkit.Sequential(stack + [layers.Dense(len(vocab))])
    model.save(os.path.join(folder, "model.rnnkit"))
    vocab.save(os.path.join(folder, "vocab.json"))
    sample = text[100_000:100_000 + n_chars]
    with open(os.path.join(folder, "heldout.txt"), "w", encoding="utf-8") as f:
        f.write(sample)
    with open(os.path.join(folder, "log.jsonl"), "w") as f:
        f.write(json.dumps({"kind": "epoch", "epoch": 1, "loss": 1.0, "val_loss": 1.1}) + "\n")
    return sample


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--chars", type=int, default=20_000)
    p.add_argument("--units", type=int, default=512)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--chromium", default="/usr/bin/chromium")
    p.add_argument("--no-browser", action="store_true", help="server timings only")
    a = p.parse_args(argv)
    folder = tempfile.mkdtemp(prefix="rnnkit-view-bench-")
    text = build_run(folder, a.chars, a.units, a.layers)
    print(f"{len(text):,} characters, {a.layers} x LSTM({a.units}), kernels "
          f"{os.environ.get('RNNKIT_KERNELS', 'default')}")

    app = ViewApp([folder])
    for k in range(2):                               # the first includes compiling the kernels
        app = ViewApp([folder])
        t = time.perf_counter()
        app._texts.clear()
        tid = app.read(0, text)["text_id"]
        print(f"server: read the text (every layer's h, the next-character probabilities) "
              f"{time.perf_counter() - t:.2f} s{' (first, compiling)' if k == 0 else ''}")
    t = time.perf_counter()
    app.unit(tid, a.layers - 1, "c", 0)
    print(f"server: first gate of the last layer (computes its gates and c) "
          f"{time.perf_counter() - t:.2f} s")
    t = time.perf_counter()
    app.rank(tid, "quotes")
    print(f"server: find cells (every gate of every layer, then the ranking) "
          f"{time.perf_counter() - t:.2f} s")
    model, ids = app.runs[0].model, app.runs[0].vocab.encode(text)[None]
    t = time.perf_counter()
    model.predict(ids, verbose=0)
    print(f"server: model.predict alone (the model's own forward: the floor) "
          f"{time.perf_counter() - t:.2f} s")
    t = time.perf_counter()
    ans = json.dumps(app.unit(tid, a.layers - 1, "c", 7))
    print(f"server: one unit {time.perf_counter() - t:.4f} s, {len(ans) / 1000:.0f} kB of JSON")

    try:
        if a.no_browser:
            return 0
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("playwright is not installed: no browser timings")
        return 0
    server = make_server([folder], port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=a.chromium, args=ARGS)
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        page.goto(url)
        page.wait_for_selector("body[data-state=ready]", timeout=300_000)
        page.fill("#text-input", text)
        for k in range(2):
            server.app._texts.clear()
            t = time.perf_counter()
            page.click("#read-button")
            page.wait_for_function("document.getElementById('text-view').dataset.state === "
                                   "'ready' && document.querySelectorAll('#text-view span')"
                                   f".length === {len(text)}", timeout=300_000)
            print(f"browser: read + render {len(text):,} characters: "
                  f"{time.perf_counter() - t:.2f} s")
        t = time.perf_counter()                     # the same text again: held by the server
        page.click("#read-button")
        page.wait_for_function("document.getElementById('text-view').dataset.state === 'ready'"
                               " && document.querySelectorAll('#text-view span')"
                               f".length === {len(text)}", timeout=300_000)
        print(f"browser: render only (text already read by the server): "
              f"{time.perf_counter() - t:.2f} s")
        for unit in (3, 4, 5):
            t = time.perf_counter()
            page.fill("#unit-input", str(unit))
            page.dispatch_event("#unit-input", "change")
            page.wait_for_function(f"document.getElementById('text-view').dataset.unit == "
                                   f"{unit} && document.getElementById('text-view')"
                                   ".dataset.state === 'ready'")
            print(f"browser: switch to unit {unit}: {time.perf_counter() - t:.3f} s")
        t = time.perf_counter()
        page.hover("#text-view span[data-i='500']")
        page.wait_for_selector("#tooltip[data-state=ready] .top-row")
        print(f"browser: hover -> top-5 next characters: {time.perf_counter() - t:.3f} s")
        browser.close()
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
