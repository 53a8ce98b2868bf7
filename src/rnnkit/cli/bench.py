"""The ``rnnkit bench`` subcommand: rnnkit vs PyTorch (and onnxruntime) on this machine.

    rnnkit bench [--shapes all|B,T,I,H] [--cells lstm,gru,rnn,mingru,minlstm] [--kernels ...]
                 [--repeats N] [--threads N] [--cpu-time] [--steps N] [--quick]
                 [--out docs/benchmarks.md | --no-write]
    rnnkit bench --procs [--threads 1,2,all] [--shapes ...] [--cells lstm,gru,mingru,minlstm]

Registered in :mod:`rnnkit.cli` like every subcommand (``_add_<name>`` + ``_run_<name>``); the
work is in :mod:`rnnkit.bench`, where torch and onnxruntime are optional imports.
"""


def _add_bench(subparsers):
    from ..bench import add_arguments

    p = subparsers.add_parser(
        "bench", help="time rnnkit against PyTorch (and onnxruntime) on this machine",
        description="Time rnnkit's LSTM, GRU and SimpleRNN layers against PyTorch (and "
                    "onnxruntime when installed) for the training step (forward + BPTT), "
                    "inference (forward) and streaming (one step at a time at batch 1, 128 "
                    "units), float32, in one run: every competitor warmed up, then timed in "
                    "round-robin; medians and ratios (rnnkit / peer, below 1: rnnkit is "
                    "faster), with the threads, BLAS and CPU. Prints a Markdown table and "
                    "writes it to --out. Without torch, rnnkit's times alone. With --procs: "
                    "the public API instead (model.train_on_batch and predict_on_batch against "
                    "torch with the same loss and optimizer, and onnxruntime), each competitor "
                    "in its own process, wall time at 1, 2 and all cores, with the scaling. "
                    "--cells mingru,minlstm: MinGRU and MinLSTM in a table of their own, "
                    "against rnnkit's and torch's LSTM and GRU of the same shape.")
    add_arguments(p)
    p.set_defaults(run=_run_bench)


def _run_bench(args):
    from ..bench import run_args

    run_args(args)
    return 0


COMMANDS = [_add_bench]
