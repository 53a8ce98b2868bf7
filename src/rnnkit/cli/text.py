"""The text subcommands of ``rnnkit``: ``train-text``, ``generate`` and ``summary``.

    rnnkit train-text FILE... [--builtin stdlib] [--cell lstm|gru|rnn|mingru|minlstm|lnlstm]
                      [--block plain|residual] [--units N] [--layers N]
                      [--seq-len N] [--batch-size N] [--epochs N] [--dropout P] [--clipnorm X]
                      [--out DIR] [--resume] [--overwrite]
    rnnkit generate DIR [--prime TEXT] [--length N] [--temperature T] [--top-k K] [--top-p P]
                    [--seed S]
    rnnkit summary FILE

Registered in :mod:`rnnkit.cli` like every subcommand (``_add_<name>`` + ``_run_<name>``).
Under ``mpiexec -n N`` train-text runs data parallel over the N ranks (``_data_parallel``;
docs/distributed.md); in one process nothing changes.
"""

import os
import sys

from .textlm import TextLMConfig

_D = TextLMConfig()


def _add_train_text(subparsers):
    p = subparsers.add_parser(
        "train-text", help="train a character-level language model with truncated BPTT",
        description="Train a character-level language model on text files (or the Python "
                    "standard library's sources) with truncated backpropagation through time: "
                    "the text runs as BATCH_SIZE parallel streams cut into windows of SEQ_LEN "
                    "characters, the state carries from window to window. Each epoch prints the "
                    "validation loss in nats and bits per character and a sample; the best "
                    "model and the vocabulary are saved in DIR.")
    p.add_argument("files", nargs="*", metavar="FILE", help="UTF-8 text files to train on")
    p.add_argument("--builtin", choices=["stdlib"],
                   help="train on a built-in corpus: the Python standard library's .py files")
    p.add_argument("--cell", choices=["lstm", "gru", "rnn", "mingru", "minlstm", "lnlstm"],
                   default=_D.cell, help="recurrent cell (default: %(default)s)")
    p.add_argument("--block", choices=["plain", "residual"], default=_D.block,
                   help="plain: stacked cells; residual: LayerNorm -> cell -> add and "
                        "LayerNorm -> MLP -> add per layer (default: %(default)s)")
    p.add_argument("--units", type=int, default=_D.units, metavar="N",
                   help="units per recurrent layer (default: %(default)s)")
    p.add_argument("--layers", type=int, default=_D.layers, metavar="N",
                   help="stacked recurrent layers (default: %(default)s)")
    p.add_argument("--seq-len", type=int, default=_D.seq_len, metavar="N",
                   help="characters per window, where BPTT is truncated (default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=_D.batch_size, metavar="N",
                   help="parallel streams per batch (default: %(default)s)")
    p.add_argument("--epochs", type=int, default=_D.epochs, metavar="N",
                   help="epochs in all, counting those done before --resume (default: %(default)s)")
    p.add_argument("--dropout", type=float, default=_D.dropout, metavar="P",
                   help="dropout on the recurrent layers' inputs (default: %(default)s)")
    p.add_argument("--clipnorm", type=float, default=_D.clipnorm, metavar="X",
                   help="clip each weight's gradient to this norm (default: %(default)s)")
    p.add_argument("--learning-rate", type=float, default=_D.learning_rate, metavar="LR",
                   help="Adam's learning rate (default: %(default)s)")
    p.add_argument("--seed", type=int, default=_D.seed, metavar="S",
                   help="seed for weights and sampling (default: %(default)s)")
    p.add_argument("--out", default=os.path.join("runs", "text"), metavar="DIR",
                   help="where to save model.rnnkit, vocab.json, last.rnnkit and state.json "
                        "(default: %(default)s)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run saved in DIR from its last checkpoint (same text, "
                        "same settings): the result equals a run never interrupted")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the run already in DIR (without it, a DIR holding another run "
                        "is refused)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=_data_parallel(_run_train_text))


def _data_parallel(run):
    """``run`` under ``mpiexec -n N`` (N > 1): data parallel over the N ranks (see
    docs/distributed.md); rank 0 alone prints, the others' stdout goes to /dev/null, and an error
    on any rank stops them all with a message and a non-zero status. Unchanged in one process."""
    def wrapped(args):
        from .. import distributed

        if distributed.size() == 1:
            return run(args)
        distributed.set_distribution(distributed.DataParallel())
        stdout = sys.stdout
        with distributed.abort_on_error(f"rnnkit {args.command}"), \
                open(os.devnull, "w") as devnull:
            if not distributed.is_main():
                sys.stdout = devnull
            try:
                return run(args)
            finally:
                sys.stdout = stdout
    return wrapped


def _run_train_text(args):
    from ..data.corpus import stdlib_corpus
    from .textlm import CHECKPOINT, read_texts, train_text

    if not args.files and not args.builtin:
        raise ValueError("give one or more text FILEs or --builtin stdlib")
    cfg = TextLMConfig(cell=args.cell, units=args.units, layers=args.layers,
                       seq_len=args.seq_len, batch_size=args.batch_size, epochs=args.epochs,
                       dropout=args.dropout, clipnorm=args.clipnorm,
                       learning_rate=args.learning_rate, seed=args.seed, block=args.block)
    cfg.check()                                   # settings first: fail before reading files
    if args.resume and not os.path.exists(os.path.join(args.out, CHECKPOINT)):
        raise FileNotFoundError(f"{args.out}: nothing to resume (no {CHECKPOINT}); train "
                                "without --resume first")
    text = read_texts(args.files) if args.files else ""
    if args.builtin == "stdlib":
        text = (text + "\n" if text else "") + stdlib_corpus()
    if args.resume:
        cfg = TextLMConfig(epochs=args.epochs)   # the rest comes from DIR/last.rnnkit
    state = train_text(text, args.out, cfg, resume=args.resume, verbose=0 if args.quiet else 1,
                       overwrite=args.overwrite)
    best = state["best_val_loss"]
    print(f"best validation loss {best:.4f} nats/char ({best / 0.6931471805599453:.3f} bits/char); "
          f"model and vocabulary in {args.out}")
    return 0


def _add_generate(subparsers):
    p = subparsers.add_parser(
        "generate", help="stream text from a model saved by train-text",
        description="Load DIR/model.rnnkit and DIR/vocab.json (written by train-text or demo) "
                    "and stream generated characters, one recurrent step per character.")
    p.add_argument("dir", metavar="DIR", help="the run directory")
    p.add_argument("--prime", default="\n", metavar="TEXT",
                   help="text to start from (default: a newline)")
    p.add_argument("--length", type=int, default=500, metavar="N",
                   help="characters to generate (default: %(default)s)")
    p.add_argument("--temperature", type=float, default=1.0, metavar="T",
                   help="below 1 more likely characters, above 1 more surprise; 0 is greedy "
                        "(default: %(default)s)")
    p.add_argument("--top-k", type=int, default=None, metavar="K",
                   help="sample only among the K most likely characters")
    p.add_argument("--top-p", type=float, default=None, metavar="P",
                   help="sample only among the most likely characters whose probabilities add "
                        "up to P (nucleus sampling)")
    p.add_argument("--seed", type=int, default=None, metavar="S",
                   help="seed for reproducible text")
    p.set_defaults(run=_run_generate)


def _run_generate(args):
    from ..data.vocab import CharVocab, load_vocab
    from ..generation import stream_text
    from ..io.saving import load_model

    if not os.path.isdir(args.dir):
        raise FileNotFoundError(f"{args.dir}: no such run directory")
    model = load_model(os.path.join(args.dir, "model.rnnkit"))
    vocab = load_vocab(os.path.join(args.dir, "vocab.json"))
    if not isinstance(vocab, CharVocab):
        raise ValueError(f"{args.dir}/vocab.json: a {type(vocab).__name__}; rnnkit generate runs "
                         f"the character models of train-text and demo, which need a CharVocab")
    if args.length < 0:
        raise ValueError(f"--length must be >= 0, got {args.length}")
    out = sys.stdout
    out.write(args.prime)
    for piece in stream_text(model, vocab, args.prime, args.length, temperature=args.temperature,
                             top_k=args.top_k, top_p=args.top_p, seed=args.seed):
        out.write(piece)
        out.flush()
    out.write("\n")
    return 0


def _add_summary(subparsers):
    p = subparsers.add_parser("summary", help="print a saved model's summary",
                              description="Print the summary of a model saved with model.save "
                                          "(a .rnnkit file).")
    p.add_argument("file", metavar="FILE", help="a model file written by model.save")
    p.set_defaults(run=_run_summary)


def _run_summary(args):
    from ..io.saving import load_model

    load_model(args.file, compile=False).summary()
    return 0


COMMANDS = [_add_train_text, _add_generate, _add_summary]
