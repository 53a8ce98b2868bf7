"""``rnnkit view``: serve the page of one or more run folders, or export it to one file.

    rnnkit view DIR [DIR2 ...] [--port N] [--host 127.0.0.1] [--export page.html]

Registered in :mod:`rnnkit.cli` like every subcommand (``_add_<name>`` + ``_run_<name>``).
"""

import sys


def _add_view(subparsers):
    p = subparsers.add_parser(
        "view", help="a browser page for a run: training curves and hidden cells over text",
        description="Serve a local page for run folders written by train-text, demo or "
                    "model.save with a vocab.json: loss and validation curves (live while the "
                    "run trains), learning rate, gradient norms, samples; the hidden cells of "
                    "the model coloured over a text, units ranked by text features, and "
                    "sampling. Several DIRs overlay their curves.")
    p.add_argument("dirs", nargs="+", metavar="DIR", help="run folders")
    p.add_argument("--port", type=int, default=8765, metavar="N",
                   help="port to serve on (default: %(default)s; 0 picks a free one)")
    p.add_argument("--host", default="127.0.0.1", metavar="HOST",
                   help="address to bind (default: %(default)s, this machine only)")
    p.add_argument("--export", metavar="FILE",
                   help="write one self-contained HTML file instead of serving")
    p.set_defaults(run=_run_view)


def _run_view(args):
    from ..view import export_page, make_server

    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port must be in 0..65535, got {args.port}")
    if args.export:
        problems = export_page(args.dirs, args.export)
        for msg in problems:
            print(f"rnnkit view: error: {msg}", file=sys.stderr)
        print(f"wrote {args.export}")
        return 1 if problems else 0
    server = make_server(args.dirs, host=args.host, port=args.port)   # prints what is wrong
    host, port = server.server_address[:2]
    shown = f"[{host}]" if ":" in host else host
    print(f"rnnkit view: serving {len(args.dirs)} run(s) at http://{shown}:{port}/  "
          "(Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


COMMANDS = [_add_view]
