"""The time-loop layer shared by SimpleRNN, LSTM and GRU.

A recurrent layer here is the Keras ``RNN`` layer fused with its cell: an
:class:`~rnnkit.layers.RNN` (``isinstance(LSTM(4), RNN)``, as in Keras) whose cell has
whole-sequence kernels, so time is walked by the kernels (reference or fast) instead of
``RNN``'s loop. ``layer.cell`` is the cell of one step (``LSTMCell`` for ``LSTM``) holding the
layer's weights. This base class does all the work that does not depend on the cell:

* checks the input (B, T, I), the mask (B, T) and ``initial_state`` (a list of (B, H) arrays);
* draws the dropout masks (one (B, I) input mask and one (B, H) recurrent mask per call, fixed
  over time, only when ``training=True``);
* reverses time for ``go_backwards`` (the output sequence stays in processing order, as Keras);
* computes the input projection for every step at once, ``xw = x @ W_ih + b`` (T, B, G*H),
  calls the cell's kernel for the recurrence (or, where the cell's ``_kernel_forward_x`` has a
  fast kernel that projects step by step inside its loop, hands it ``x`` instead of ``xw``),
  and after BPTT computes ``dW_ih = X^T dxw``, ``db = sum(dxw)`` and ``dx = dxw W_ih^T`` as
  single matrix products;
* picks the outputs: the last output or the whole sequence, plus the final states.

A cell subclass provides ``n_gates`` and ``state_names``, ``_build_cell(input_dim)`` (creates
kernel (I, G*H), recurrent_kernel (H, G*H) and the bias), ``_input_bias()``,
``_kernel_forward(xw, states0, mask, rec_dropout)`` and ``_kernel_backward(dh_seq, d_states,
cache)`` which adds the recurrent weight gradients and returns ``(dxw, d_states0)``.

Under :func:`rnnkit.grad_mode.inference_mode` (``Model.predict``; no backward will follow)
``forward`` calls ``_kernel_infer(x, states0, mask, out)`` instead: a forward-only kernel that
keeps no cache, does the input projection step by step inside its loop (from the batch-first
``x``, no transposes) and writes the output sequence batch-first straight into ``out``
(B, T, H) (None without ``return_sequences``). The default below runs the input projection
and ``_kernel_forward`` and copies; LSTM, GRU and SimpleRNN override it with the forward-only
kernels (:func:`rnnkit.kernels.dispatch.inference_kernel_for`).

Threads (:mod:`rnnkit.kernels.threads`, the number from :func:`rnnkit.config.set_num_threads`):
``forward`` and ``backward`` run with numpy's BLAS at one thread; the kernels split the batch
over rnnkit's pool, and the products above and the batch-first/time-major transposes are split
over the same pool.

Masked steps (``mask[b, t]`` False) carry the state through unchanged; their output is the
carried state, or zeros with ``zero_output_for_mask=True`` (what Bidirectional uses).

``stateful=True`` (Keras semantics): the final states of one call are the initial states of the
next, sample ``i`` of a batch continuing sample ``i`` of the previous batch, so the batch size
must stay the same; ``reset_states()`` starts again from zeros. The carried states are constants
to the next call: no gradient crosses from one batch to the previous one, which is exactly
truncated backpropagation through time when a long stream is fed window by window (see
:mod:`rnnkit.training.tbptt`).
"""

import numpy as np

from .. import activations, initializers
from ..grad_mode import is_inference_mode
from ..kernels import threads
from ..random import make_rng
from . import checks
from .base import Layer
from .cell import cell_of_layer
from .rnn import _NO_CACHE, RNN   # _NO_CACHE: self._cache after an inference_mode() call


class Recurrent(RNN):
    """Base of the recurrent layers; see the module docstring for what a cell must provide.
    An ``RNN`` with its own weights (``lstm/kernel``), made in ``build``; ``cell`` holds them."""

    _regularizable = ("kernel", "recurrent_kernel", "bias")

    n_gates = 1
    state_names = ("h",)
    units = states = None          # set in __init__: attributes here, not RNN's properties
    cell_class = None              # the Cell of one step (LSTMCell for LSTM), set by its module

    def __init__(self, units, activation="tanh", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", dropout=0.0, recurrent_dropout=0.0,
                 return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, zero_output_for_mask=False, seed=None,
                 implementation=None, use_cudnn="auto", **kwargs):
        # Keras's implementation / use_cudnn choose kernels; rnnkit picks its own (reference or
        # fast, see rnnkit.kernels.dispatch): accepted for Keras code and otherwise unused
        Layer.__init__(self, **kwargs)                # not RNN's: no cell is given
        if implementation not in (None, 1, 2) or use_cudnn not in ("auto", True, False):
            raise ValueError(f"{self.name}: expected implementation None, 1 or 2 and use_cudnn "
                             f"'auto', True or False, got {implementation!r}, {use_cudnn!r}")
        checks.booleans(self, use_bias=use_bias, return_sequences=return_sequences,
                        return_state=return_state, go_backwards=go_backwards, stateful=stateful,
                        unroll=unroll, zero_output_for_mask=zero_output_for_mask)
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units <= 0:
            raise ValueError(f"{self.name}: units must be a positive integer, got {units!r}")
        for what, p in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if not 0.0 <= p < 1.0:
                raise ValueError(f"{self.name}: {what} must be in [0, 1), got {p!r}")
        self.units = int(units)
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.dropout = float(dropout)
        self.recurrent_dropout = float(recurrent_dropout)
        self.return_sequences = return_sequences
        self.return_state = return_state
        self.go_backwards = go_backwards
        self.stateful = stateful
        self.states = None  # with stateful=True: the final states of the last call, (B, H) each
        self.unroll = unroll  # accepted for Keras compatibility; the loop is never unrolled
        self.zero_output_for_mask = zero_output_for_mask
        self.seed = seed
        self._rng = make_rng(seed)
        # Diagnostics: when True, backward() keeps dL/dh_t of every step in self.state_grads
        # (B, T, H), in input time order (see rnnkit.diagnostics).
        self.record_state_grads = False
        self.state_grads = None
        self._trace = None

    # ---- the cell, shapes and weights ----------------------------------------------------
    @property
    def cell(self):
        """Keras's ``layer.cell``: one step as a cell (``LSTMCell`` for ``LSTM``) holding the
        layer's very Weight objects once built (:func:`~rnnkit.layers.cell.cell_of_layer`)."""
        return cell_of_layer(self)

    @property
    def state_size(self):
        return [self.units] * len(self.state_names)

    def build(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(
                f"{self.name}: expected input of rank 3 (batch, time, features), "
                f"got shape {tuple(input_shape)}"
            )
        if input_shape[-1] is None:
            raise ValueError(f"{self.name}: the feature size of the input must be known")
        self._build_cell(int(input_shape[-1]))
        Layer.build(self, input_shape)

    def _build_cell(self, input_dim):
        G = self.n_gates * self.units
        self.kernel = self.add_weight("kernel", (input_dim, G), self.kernel_initializer)
        self.recurrent_kernel = self.add_weight(
            "recurrent_kernel", (self.units, G), self.recurrent_initializer
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight("bias", self._bias_shape(), self._bias_init())

    def _bias_shape(self):
        return (self.n_gates * self.units,)

    def _bias_init(self):
        return self.bias_initializer

    def _input_bias(self):
        """The bias added to the input projection (G*H,), or None."""
        return self.bias.value if self.bias is not None else None

    def _add_bias_grad(self, dxw_sum):
        """Accumulate the bias gradient from ``sum over t, b of dxw`` (G*H,)."""
        if self.bias is not None:
            self.bias.grad += dxw_sum

    # ---- checks ----------------------------------------------------------------------------
    def _check_inputs(self, x, mask, initial_state):
        x = np.asarray(x)
        if x.dtype.kind not in "fiub":
            raise TypeError(f"{self.name}: expected a numeric input array, got dtype {x.dtype}")
        self._check_rank(x, 3, "input (batch, time, features)")
        self._maybe_build(x.shape)
        self._check_last_dim(x, self.kernel.shape[0])
        x = np.asarray(x, dtype=self.dtype)
        checks.sequence_input(self, x)
        B, T, _ = x.shape
        if mask is not None:
            mask = checks.as_array(self, mask, (B, T), "a mask", dtype=bool,
                                     note=" (batch, time)")
        n = len(self.state_names)
        if initial_state is None and self.stateful and self.states is not None:
            if self.states[0].shape[0] != B:
                raise ValueError(
                    f"{self.name}: this stateful layer carries states for a batch of "
                    f"{self.states[0].shape[0]} sequences, got a batch of {B}; keep the batch "
                    f"size fixed or call reset_states() first"
                )
            states = list(self.states)
        elif initial_state is None:
            states = [np.zeros((B, self.units), dtype=self.dtype) for _ in range(n)]
        else:
            if not isinstance(initial_state, (list, tuple)):
                initial_state = [initial_state]
            if len(initial_state) != n:
                raise ValueError(
                    f"{self.name}: expected {n} initial state array(s) "
                    f"({', '.join(self.state_names)}), got {len(initial_state)}"
                )
            states = []
            for name, s in zip(self.state_names, initial_state):
                states.append(checks.as_array(self, s, (B, self.units), f"initial state {name}"))
        return x, mask, states

    def _reset_own_states(self, states=None):
        """Back to zeros (``states=None``) or to the given arrays, one (B, H) per state."""
        if states is None:
            self.states = None
            return
        states = list(states) if isinstance(states, (list, tuple)) else [states]
        if len(states) != len(self.state_names) or any(
                np.shape(s) != (np.shape(states[0])[0], self.units) for s in states):
            raise ValueError(f"{self.name}: reset_states expects {len(self.state_names)} arrays "
                             f"of shape (batch, {self.units}), got {[np.shape(s) for s in states]}")
        self.states = [np.asarray(s, dtype=self.dtype).copy() for s in states]

    def reset_states(self, states=None):
        """Forget the carried states (stateful layers), or set them to ``states``."""
        self._reset_own_states(states)

    def _dh_trace(self, dh_seq):
        """A buffer for the kernel to write dL/dh_t into, when recording (else None)."""
        self._trace = np.empty_like(dh_seq) if self.record_state_grads else None
        return self._trace

    def _dropout_mask(self, shape, rate):
        keep = self._rng.random(shape) >= rate
        return (keep / (1.0 - rate)).astype(self.dtype)

    # ---- forward and backward --------------------------------------------------------------
    # Both run under threads.blas_one_thread: numpy's BLAS at one thread, the parallel work
    # (batch blocks, the products outside the loop) on rnnkit's own pool (rnnkit.config.
    # set_num_threads), so two thread pools never fight over the cores.
    @threads.blas_one_thread
    def forward(self, x, training=False, mask=None, initial_state=None):
        """Run the layer over a batch of sequences.

        Args:
            x: (B, T, I) inputs.
            training: apply dropout and recurrent_dropout when True.
            mask: optional (B, T) bool, False at padded steps.
            initial_state: optional list of (B, H) arrays, one per state (h; h and c for LSTM).

        Returns:
            (B, H), or (B, T, H) with ``return_sequences``; with ``return_state`` a list
            ``[output, *final_states]``.
        """
        x, mask, states0 = self._check_inputs(x, mask, initial_state)
        B, T, I = x.shape
        in_drop = rec_drop = None
        if training and self.dropout > 0:
            in_drop = self._dropout_mask((B, I), self.dropout)
        if training and self.recurrent_dropout > 0:
            rec_drop = self._dropout_mask((B, self.units), self.recurrent_dropout)
        if is_inference_mode() and in_drop is None and rec_drop is None:
            return self._forward_no_cache(x, mask, states0)    # no backward follows: no cache

        x_tm = x.transpose(1, 0, 2)                        # (T, B, I), time-major
        mask_tm = None if mask is None else mask.T         # (T, B)
        if self.go_backwards:
            x_tm = x_tm[::-1]
            mask_tm = None if mask_tm is None else mask_tm[::-1]
        x_in = x_tm if in_drop is None else x_tm * in_drop
        x_in = threads.contiguous(x_in).reshape(T * B, I)
        run = self._kernel_forward_x(x_in.reshape(T, B, I), states0, mask_tm, rec_drop)
        if run is None:                                     # (T*B, G*H), all steps at once
            xw = threads.project(x_in, self.kernel.value, self._input_bias())
            run = self._kernel_forward(xw.reshape(T, B, -1), states0, mask_tm, rec_drop)
        h_seq, states, kcache = run
        if self.stateful:  # carried to the next call as constants: no gradient flows back
            self.states = [s.copy() for s in states]

        if self.return_sequences:
            out = threads.contiguous(h_seq.transpose(1, 0, 2))  # (B, T, H), processing order
            if self.zero_output_for_mask and mask_tm is not None:
                out = out * mask_tm.T[:, :, None]
        else:
            out = states[0]
        self._cache = (x_in, in_drop, mask_tm, kcache, (B, T, I), initial_state is not None)
        if self.return_state:
            return [out] + list(states)
        return out

    def _kernel_forward_x(self, x_tm, states0, mask, rec_dropout):
        """``_kernel_forward`` from the time-major inputs x_tm (T, B, I) by a kernel that does
        the input projection inside its loop, or None (the default) when the cell has none
        here: ``forward`` then computes ``xw`` itself."""
        return None

    def _forward_no_cache(self, x, mask, states0):
        """The rest of ``forward`` under inference_mode: the kernel writes the output."""
        B, T, _ = x.shape
        out = np.empty((B, T, self.units), dtype=x.dtype) if self.return_sequences else None
        states = self._kernel_infer(x, states0, mask, out)
        if self.stateful:
            self.states = [s.copy() for s in states]
        self._cache = _NO_CACHE
        if not self.return_sequences:
            out = states[0]
        return [out] + list(states) if self.return_state else out

    def _kernel_infer(self, x, states0, mask, out):
        """Forward only from ``x`` (B, T, I) and ``mask`` (B, T) or None: fill ``out``
        (B, T, H) when given (processing order, as ``forward``), return the final states.

        This default runs the input projection and the cached kernel and drops the cache;
        the cells override it with the forward-only kernels.
        """
        B, T, I = x.shape
        x_tm = x.transpose(1, 0, 2)                        # (T, B, I), time-major
        mask_tm = None if mask is None else mask.T         # (T, B)
        if self.go_backwards:
            x_tm = x_tm[::-1]
            mask_tm = None if mask_tm is None else mask_tm[::-1]
        xw = threads.project(threads.contiguous(x_tm).reshape(T * B, I), self.kernel.value,
                             self._input_bias())
        h_seq, states, _ = self._kernel_forward(xw.reshape(T, B, -1), states0, mask_tm, None)
        if out is not None:
            out[...] = h_seq.transpose(1, 0, 2)
            if self.zero_output_for_mask and mask_tm is not None:
                out *= mask_tm.T[:, :, None]
        return states

    @threads.blas_one_thread
    def backward(self, dy):
        """BPTT: returns dx (B, T, I), or ``[dx, *d_initial_states]`` when initial_state was given.

        ``dy`` is the gradient of the output, or with ``return_state`` a list
        ``[d_output, *d_final_states]`` in which any entry may be None.
        """
        if self._cache is None:
            raise RuntimeError(f"{self.name}: backward() called before forward()")
        if self._cache is _NO_CACHE:
            raise RuntimeError(f"{self.name}: the last forward() ran under inference_mode(), "
                               f"which keeps nothing for backward(); run forward() outside it")
        x_in, in_drop, mask_tm, kcache, (B, T, I), had_state = self._cache
        dy_out, d_states = checks.recurrent_output_grads(self, dy, B, T)  # shapes, before kernels

        dh_seq = np.zeros((T, B, self.units), dtype=self.dtype)
        if dy_out is not None:
            if self.return_sequences:
                dh_seq = threads.contiguous(dy_out.transpose(1, 0, 2))
                if self.zero_output_for_mask and mask_tm is not None:
                    dh_seq = dh_seq * mask_tm[:, :, None]
            else:
                d_states[0] = dy_out if d_states[0] is None else d_states[0] + dy_out

        dxw, d_states0 = self._kernel_backward(dh_seq, d_states, kcache)
        if self._trace is not None:
            trace = self._trace[::-1] if self.go_backwards else self._trace
            self.state_grads = np.ascontiguousarray(trace.transpose(1, 0, 2))
            self._trace = None

        # dW_ih += X^T dxw, db += sum over steps and batch of dxw, dx = dxw W_ih^T: one
        # parallel region over the threads (X (T*B, I), dxw (T*B, G*H))
        dxw2 = dxw.reshape(T * B, -1)
        db = np.zeros(dxw2.shape[1], dtype=dxw2.dtype) if self.bias is not None else None
        dx_tm = threads.input_grads(x_in, dxw2, self.kernel.value, self.kernel.grad, db)
        if db is not None:
            self._add_bias_grad(db)
        dx_tm = dx_tm.reshape(T, B, I)
        if in_drop is not None:
            dx_tm *= in_drop
        if self.go_backwards:
            dx_tm = dx_tm[::-1]
        dx = threads.contiguous(dx_tm.transpose(1, 0, 2))
        if had_state:
            return [dx] + list(d_states0)
        return dx

    # ---- streaming -------------------------------------------------------------------------
    def streamer(self, batch_size=1, initial_state=None):
        """A :class:`~rnnkit.layers.streaming.Streamer`: this layer stepped one ``x_t`` at a
        time for inference, ``stream.step(x_t (B, I)) -> h_t (B, H)``, the states held by the
        stream (zeros, or ``initial_state``: one (B, H) array per state)."""
        from .streaming import Streamer  # streaming imports the cell layers, which import us
        return Streamer(self, batch_size=batch_size, initial_state=initial_state)

    # ---- config ----------------------------------------------------------------------------
    def get_config(self):
        cfg = Layer.get_config(self)                  # the options, not RNN's cell
        cfg.update(
            units=self.units,
            activation=activations.serialize(self.activation),
            use_bias=self.use_bias,
            kernel_initializer=initializers.serialize(self.kernel_initializer),
            recurrent_initializer=initializers.serialize(self.recurrent_initializer),
            bias_initializer=initializers.serialize(self.bias_initializer),
            dropout=self.dropout,
            recurrent_dropout=self.recurrent_dropout,
            return_sequences=self.return_sequences,
            return_state=self.return_state,
            go_backwards=self.go_backwards,
            stateful=self.stateful,
            unroll=self.unroll,
            zero_output_for_mask=self.zero_output_for_mask,
            seed=self.seed if not isinstance(self.seed, np.random.Generator) else None,
        )
        return cfg

    @classmethod
    def from_config(cls, config):
        return cls(**config)                          # Layer's: no cell to deserialize
