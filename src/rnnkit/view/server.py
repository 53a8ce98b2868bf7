"""The page, served by the standard library (``http.server``), or written to one file.

Why the standard library: the page needs a handful of JSON routes and one streamed answer;
``ThreadingHTTPServer`` does that with nothing to install, so the ``view`` extra stays empty of
servers (Starlette + uvicorn would add about 2 MB and an event loop for no gain here). The
charts are plain SVG written in ``static/page.js``; nothing comes from a CDN.

Routes (everything else is 404)::

    GET  /                        the page (script, style and the boot data inline)
    GET  /api/runs                runs_info(); ?since=SIGNATURE answers {"unchanged": true}
    POST /api/read                {"run", "text"}
    GET  /api/unit                ?text_id&layer&kind&unit
    GET  /api/next                ?text_id&pos
    POST /api/rank                {"text_id", "feature", "regex"}
    GET  /api/gradient            ?text_id&layer
    POST /api/sample              {"run", "prime", ...}: one JSON line per character, streamed
    GET  /files/K/NAME            a file directly inside run K's folder (e.g. loss.png)

The server binds to 127.0.0.1 unless told otherwise. A request it cannot answer gets a JSON
``{"error": ...}`` with status 400 or 404, and the same line goes to the terminal (stderr);
never a traceback page.
"""

import json
import os
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .app import ViewApp, ViewError

STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
MAX_BODY = 4_000_000
_TYPES = {".png": "image/png", ".json": "application/json", ".jsonl": "text/plain",
          ".txt": "text/plain", ".svg": "image/svg+xml", ".csv": "text/plain"}


def _script_json(obj):
    """JSON safe inside a <script> element."""
    return (json.dumps(obj, separators=(",", ":"), allow_nan=False)
            .replace("</", "<\\/").replace("<!--", "<\\!--"))


def page_html(boot):
    """The whole page with its style, script and boot data inline."""
    def read(name):
        with open(os.path.join(STATIC, name), encoding="utf-8") as f:
            return f.read()
    script = "\n".join(read(n) for n in ("charts.js", "exported.js", "page.js"))
    return (read("page.html").replace("/*STYLE*/", read("page.css"))
            .replace("/*SCRIPT*/", script).replace("/*BOOT*/", _script_json(boot)))


def export_page(folders, path):
    """Write one self-contained HTML file for ``folders``; returns the messages (problems)."""
    app = ViewApp(folders)
    html = page_html({"mode": "export", **app.export_data(), "messages": app.messages()})
    with open(path, "w", encoding="utf-8") as f:
        f.write(html)
    return app.messages()


class _Handler(BaseHTTPRequestHandler):
    server_version = "rnnkit-view"
    app: ViewApp = None
    log_errors = True

    def log_message(self, fmt, *args):          # quiet: only errors reach the terminal
        pass

    def _error_line(self, msg):
        if self.log_errors:
            print(f"rnnkit view: error: {msg}", file=sys.stderr, flush=True)

    def _send(self, status, body, ctype="application/json; charset=utf-8"):
        if isinstance(body, (dict, list)):
            body = json.dumps(body, separators=(",", ":")).encode("utf-8")
        elif isinstance(body, str):
            body = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(body)

    def _fail(self, status, msg):
        self._error_line(msg)
        self._send(status, {"error": msg})

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_BODY:
            raise ViewError(f"the request is larger than {MAX_BODY:,} bytes")
        try:
            data = json.loads(self.rfile.read(n).decode("utf-8") or "{}")
        except (ValueError, UnicodeDecodeError):
            raise ViewError("the request body is not JSON") from None
        if not isinstance(data, dict):
            raise ViewError("the request body is not a JSON object")
        return data

    def _route(self, method):
        url = urllib.parse.urlsplit(self.path)
        q = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query).items()}
        path, app = url.path, self.app
        if method == "GET" and path in ("/", "/index.html"):
            return self._send(200, page_html({"mode": "served", "messages": app.messages()}),
                              "text/html; charset=utf-8")
        if method == "GET" and path == "/api/runs":
            info = app.runs_info()
            return self._send(200, {"unchanged": True} if q.get("since") == info["signature"]
                              else info)
        if method == "GET" and path == "/api/unit":
            return self._send(200, app.unit(q.get("text_id"), q.get("layer"), q.get("kind"),
                                            q.get("unit")))
        if method == "GET" and path == "/api/next":
            return self._send(200, app.next_chars(q.get("text_id"), q.get("pos")))
        if method == "GET" and path == "/api/gradient":
            return self._send(200, app.gradient(q.get("text_id"), q.get("layer")))
        if method == "POST" and path == "/api/read":
            b = self._body()
            return self._send(200, app.read(b.get("run", 0), b.get("text")))
        if method == "POST" and path == "/api/rank":
            b = self._body()
            return self._send(200, app.rank(b.get("text_id"), b.get("feature"), b.get("regex")))
        if method == "POST" and path == "/api/sample":
            b = self._body()
            chars = app.sample(b.get("run", 0), b.get("prime"), b.get("length", 200),
                               b.get("temperature", 1.0), b.get("top_k"), b.get("top_p"),
                               b.get("seed"), b.get("layer", 0), b.get("kind", "h"),
                               b.get("unit", 0))
            return self._stream(chars)
        if method == "GET" and path.startswith("/files/"):
            return self._file(path)
        return self._fail(404, f"not found: {path[:200]}")

    def _stream(self, items):
        """JSON lines, flushed one by one (the page colours characters as they arrive)."""
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        try:
            for item in items:
                self.wfile.write((json.dumps(item) + "\n").encode("utf-8"))
                self.wfile.flush()
        except ValueError as e:                        # a bad option found mid-way
            self._error_line(str(e))
            self.wfile.write((json.dumps({"error": str(e)}) + "\n").encode("utf-8"))
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _file(self, path):
        parts = urllib.parse.unquote(path).split("/")       # ['', 'files', K, NAME]
        runs = self.app.runs
        if (len(parts) != 4 or not parts[2].isdigit() or int(parts[2]) >= len(runs)
                or runs[int(parts[2])] is None or parts[3] in ("", ".", "..")):
            return self._fail(404, f"not found: {path[:200]}")
        folder = os.path.realpath(runs[int(parts[2])].folder)
        full = os.path.realpath(os.path.join(folder, parts[3]))
        if os.path.dirname(full) != folder or not os.path.isfile(full):
            return self._fail(404, f"not found: {path[:200]}")
        with open(full, "rb") as f:
            data = f.read()
        self._send(200, data, _TYPES.get(os.path.splitext(full)[1], "application/octet-stream"))

    def _handle(self, method):
        try:
            self._route(method)
        except ViewError as e:
            self._fail(400, str(e))
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as e:                           # a bug: say so, without a traceback page
            msg = f"internal error ({type(e).__name__}: {' '.join(str(e).split())})"
            if os.environ.get("RNNKIT_DEBUG"):
                import traceback
                traceback.print_exc()
            self._fail(500, msg)

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")


def make_server(folders, host="127.0.0.1", port=8765, log_errors=True):
    """A ``ThreadingHTTPServer`` for ``folders`` (not yet serving; call ``serve_forever``).
    ``port=0`` picks a free port (``server.server_address[1]``); ``server.app`` is the ViewApp.
    With ``log_errors`` the problems found in the folders and every failed request are printed
    on stderr as ``rnnkit view: error: ...``."""
    app = ViewApp(folders)
    if log_errors:
        for msg in app.messages():
            print(f"rnnkit view: error: {msg}", file=sys.stderr, flush=True)
    handler = type("Handler", (_Handler,), {"app": app, "log_errors": log_errors})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    server.app = app
    return server
