"""The ``rnnkit`` command.

    rnnkit demo [--quick] [--out DIR] [--minutes M] [--seed S]
    rnnkit train-text FILE... [--builtin stdlib] [--cell lstm|gru|rnn] [--units N] ...
    rnnkit generate DIR [--prime TEXT] [--length N] [--temperature T] [--top-k K] [--top-p P]
    rnnkit summary FILE
    rnnkit bench [...]
    rnnkit examples [list | run NAME [ARGS...] | gallery [--no-run]]
    rnnkit view DIR [DIR2...] [--port N] [--host H] [--export FILE]

Each subcommand is two functions: ``_add_<name>(subparsers)`` declares its arguments and sets
``run=_run_<name>``, and ``_run_<name>(args)`` does the work and returns an exit status. Adding
one is writing those two and listing the first in ``COMMANDS``.

User errors (a bad argument, a missing or malformed file) print one line,
``rnnkit: error: ...``, on stderr and exit with status 1 (2 for bad command-line syntax), never
a traceback. ``RNNKIT_DEBUG=1`` shows the traceback.
"""

import argparse
import os
import sys

from .. import __version__
from ..errors import FileFormatError

# What a user can cause; anything else is a bug and keeps its traceback.
USER_ERRORS = (ValueError, OSError, FileFormatError)


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line (without the usage block)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# ---- demo ----------------------------------------------------------------------------------------
def _add_demo(subparsers):
    p = subparsers.add_parser(
        "demo", help="train a character-level LSTM on the Python stdlib and generate text",
        description="Print the Keras guide model's summary, train a character-level LSTM on the "
                    "Python standard library's source (about 2 minutes), generate text at two "
                    "temperatures, and save the model, vocabulary and loss plot.")
    p.add_argument("--quick", action="store_true",
                   help="a tiny run of a few seconds (a small slice, one epoch)")
    p.add_argument("--out", default=os.path.join("runs", "demo"), metavar="DIR",
                   help="where to write model.rnnkit, vocab.json and loss.png "
                        "(default: %(default)s)")
    p.add_argument("--minutes", type=float, default=None, metavar="M",
                   help="training time budget in minutes (default: 2; --quick: one epoch)")
    p.add_argument("--seed", type=int, default=0, metavar="S",
                   help="seed for weights, shuffling and sampling (default: %(default)s)")
    p.set_defaults(run=_run_demo)


def _run_demo(args):
    from .demo import run_demo

    run_demo(out=args.out, quick=args.quick, minutes=args.minutes, seed=args.seed)
    return 0


from .text import COMMANDS as _TEXT_COMMANDS  # noqa: E402  (train-text, generate, summary)
from .bench import COMMANDS as _BENCH_COMMANDS  # noqa: E402  (bench)
from .examples import COMMANDS as _EXAMPLES_COMMANDS  # noqa: E402  (examples)
from .view import COMMANDS as _VIEW_COMMANDS  # noqa: E402  (view)

COMMANDS = [_add_demo, *_TEXT_COMMANDS, *_BENCH_COMMANDS, *_EXAMPLES_COMMANDS, *_VIEW_COMMANDS]


# ---- entry point ---------------------------------------------------------------------------------
def build_parser():
    parser = _Parser(prog="rnnkit", description="Recurrent neural networks on the CPU.")
    parser.add_argument("--version", action="version", version=f"rnnkit {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in COMMANDS:
        add(subparsers)
    return parser


def main(argv=None):
    """Run the command line; returns the exit status (the console script exits with it)."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except USER_ERRORS as e:
        if os.environ.get("RNNKIT_DEBUG"):
            raise
        msg = " ".join(str(e).split()) or type(e).__name__
        print(f"rnnkit {args.command}: error: {msg}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"rnnkit {args.command}: interrupted", file=sys.stderr)
        return 130
    except MemoryError as e:                   # one line, as any user error (issue 12)
        if os.environ.get("RNNKIT_DEBUG"):
            raise
        print(f"rnnkit {args.command}: error: out of memory{': ' + str(e) if str(e) else ''}; "
              f"try smaller settings", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
