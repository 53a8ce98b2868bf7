"""Time rnnkit's recurrent layers against PyTorch (and onnxruntime) on this machine, in one run.

    python benchmarks/bench_recurrent.py [--shapes all | --shape B,T,I,H] [--cells lstm,gru,rnn]
                                         [--kernels fast,reference] [--repeats N]
                                         [--threads N] [--cpu-time] [--steps N] [--quick]
                                         [--out docs/benchmarks.md | --no-write]

A thin wrapper: the benchmark is :mod:`rnnkit.bench`, the same as ``rnnkit bench`` (see its
docstring for what is timed and how). ``--shape B,T,I,H`` is kept as an alias of ``--shapes``;
without either, one shape (32,100,64,128) as before.
"""

import argparse
import sys

from rnnkit.bench import add_arguments, run_args


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(p)
    p.add_argument("--shape", default=None, metavar="B,T,I,H",
                   help="one shape (alias of --shapes B,T,I,H)")
    p.set_defaults(shapes=None)
    args = p.parse_args(argv)
    if args.shape is not None:
        args.shapes = args.shape
    elif args.shapes is None:
        args.shapes = "32,100,64,128"
    try:
        run_args(args)
    except ValueError as e:
        p.error(str(e))
    return 0


if __name__ == "__main__":
    sys.exit(main())
