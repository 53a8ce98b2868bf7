"""Fast kernels: compiled (Numba) versions of :mod:`rnnkit.kernels` with the same contract.

``lstm``, ``gru`` and ``simple_rnn`` hold one module each: the forward and backward passes as
single compiled calls over the whole sequence, plus Python wrappers with the reference
signatures, and a forward-only pass without a cache (``*_infer``; GRU's in ``gru_infer``) for
inference. ``ln_lstm`` (the LayerNorm LSTM with zoneout) has the forward and backward passes;
``min_rnn`` and ``scan`` the minGRU / minLSTM passes and the linear scan; ``zoneout`` packs
zoneout's keep-masks for the LSTM and GRU passes.
``_lowlevel`` binds numpy's own OpenBLAS ``?gemm`` and defines the vectorisable tanh and the
per-step products; ``common`` prepares arguments and splits a batch over threads
(:func:`rnnkit.kernels.threads.run_blocks`).

Importing this package needs numba; :mod:`rnnkit.kernels.dispatch` imports it lazily and falls
back to the reference kernels when that fails. Compiled code is cached on disk
(``__pycache__``): the first call of a kernel in a fresh environment compiles it (about 3-7 s
per cell and dtype on a 2-core machine), later processes load it in well under a second.
Threads: the batch split and the products follow :mod:`rnnkit.kernels.threads` (the number:
:func:`rnnkit.config.set_num_threads`).
"""

from ._lowlevel import AVAILABLE

__all__ = ["AVAILABLE"]
