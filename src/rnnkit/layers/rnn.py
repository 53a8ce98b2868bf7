"""The loop: Keras's ``RNN(cell)``, a cell (or a list of cells) walked over time.

``RNN(cell)`` takes (B, T, I) inputs and gives the last output (B, O), or with
``return_sequences`` every output (B, T, O), plus with ``return_state`` the final states. The cell
says what one step is (:mod:`rnnkit.layers.cell`); this layer does everything else:

* a cell that names a whole-sequence layer (the built-in ``LSTMCell``, ``GRUCell``,
  ``SimpleRNNCell``: :meth:`~rnnkit.layers.cell.Cell.sequence_layer`) runs through it, sharing
  its weights: ``RNN(LSTMCell(n))`` and ``LSTM(n)`` run the same kernels (fast or reference),
  take each other's ``get_weights()`` and give the same outputs and gradients. ``LSTM``,
  ``GRU`` and ``SimpleRNN`` are themselves ``RNN`` layers of that kind
  (:class:`~rnnkit.layers.recurrent.Recurrent`): ``isinstance(LSTM(n), RNN)``, and
  ``LSTM(n).cell`` is an ``LSTMCell`` holding the layer's weights;
* any other cell, and a list of cells (:class:`~rnnkit.layers.StackedRNNCells`), is stepped by
  the loop below, the one place that walks time for cells without sequence kernels. Forward::

      for t in 0..T-1 (reversed with go_backwards):
          y_t, s_t, cache_t = cell.step(x_t, s_{t-1})
          masked step (mask[b, t] False):  s_t = s_{t-1},  y_t = y_{t-1}
      (y_{-1} = s_{-1}[0] when it has the output's shape, else zeros)

  and BPTT walks back calling ``cell.step_backward(dy_t, ds_t, cache_t)``, a masked step passing
  its gradients straight to step t-1.

Dropout masks (``cell.dropout``, ``cell.recurrent_dropout``) are drawn once per call
(:meth:`~rnnkit.layers.cell.Cell.dropout_masks`) and fixed over time. With
``zero_output_for_mask`` masked steps output zeros in the sequence. ``stateful=True`` carries the
final states of one call into the next (same batch size; ``reset_states()`` to start again).
``unroll`` is accepted for Keras code and ignored: the loop is never unrolled.

A user cell in plain NumPy trains through it with no change to rnnkit::

    >>> import numpy as np
    >>> from rnnkit.layers import RNN, Cell
    >>> class MinimalRNNCell(Cell):            # h_t = tanh(x_t W + h_prev U)
    ...     def __init__(self, units, **kwargs):
    ...         super().__init__(**kwargs)
    ...         self.units = self.state_size = units
    ...     def build(self, input_shape):
    ...         self.W = self.add_weight("kernel", (input_shape[-1], self.units), "glorot_uniform")
    ...         self.U = self.add_weight("recurrent_kernel", (self.units, self.units), "orthogonal")
    ...         super().build(input_shape)
    ...     def step(self, x_t, states):
    ...         h_prev = states[0]
    ...         h_t = np.tanh(x_t @ self.W.value + h_prev @ self.U.value)
    ...         return h_t, [h_t], (x_t, h_prev, h_t)
    ...     def step_backward(self, dy_t, d_states, cache):
    ...         x_t, h_prev, h_t = cache
    ...         da = (dy_t + d_states[0]) * (1 - h_t ** 2)     # h_t = tanh(a)
    ...         self.W.grad += x_t.T @ da                      # a = x_t W + h_prev U
    ...         self.U.grad += h_prev.T @ da
    ...         return da @ self.W.value.T, [da @ self.U.value.T]
    >>> layer = RNN(MinimalRNNCell(4), return_sequences=True)
    >>> y = layer(np.ones((2, 5, 3)))
    >>> dx = layer.backward(np.ones_like(y))
    >>> y.shape, dx.shape, [w.path for w in layer.weights]
    ((2, 5, 4), (2, 5, 3), ['rnn/minimal_rnn_cell/kernel', 'rnn/minimal_rnn_cell/recurrent_kernel'])

A peephole LSTM cell, checked by finite differences and trained, is ``examples/custom_cell.py``.
"""

import numpy as np

from ..grad_mode import is_inference_mode
from ..kernels.equations import carry_masked, carry_masked_backward
from .base import Layer
from .cell import Cell
from .registry import deserialize, serialize
from .stacked_cells import StackedRNNCells

_NO_CACHE = "no cache: forward ran under inference_mode()"


class RNN(Layer):
    """Keras's ``RNN`` layer: the time loop around a cell or a list of cells.

    Args:
        cell: a :class:`~rnnkit.layers.cell.Cell`, or a list of them (stacked, first nearest
            the input; their states flattened in order, as Keras's nested list).
        return_sequences: output every step (B, T, O) rather than the last (B, O).
        return_state: also return the final states: ``[output, *states]``.
        go_backwards: process the sequence from the last step to the first (the outputs stay in
            processing order, as Keras).
        stateful: carry the final states of a call into the next (fixed batch size).
        unroll: accepted for Keras compatibility and ignored (the loop is never unrolled).
        zero_output_for_mask: masked steps output zeros instead of the previous output.
    """

    supports_masking = True

    def __init__(self, cell, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, zero_output_for_mask=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(cell, (list, tuple)):
            cell = StackedRNNCells(cell)
        if not isinstance(cell, Cell):
            raise TypeError(f"{self.name}: expected a cell (a subclass of rnnkit.layers.Cell with "
                            f"state_size, step and step_backward) or a list of cells, got "
                            f"{type(cell).__name__}")
        self.cell = cell
        self._sublayers = [cell]
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.unroll = bool(unroll)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self._states = None          # stateful, stepped by the loop: the last call's final states
        self._seq = None             # the cell's whole-sequence layer, once built (or None)

    # ---- shapes and weights ------------------------------------------------------------------
    @property
    def state_names(self):
        return tuple(f"state_{k}" for k in range(len(self.cell.state_sizes)))

    @property
    def units(self):
        return self.cell.output_size

    @property
    def state_size(self):
        """The size of each state (a list): the cell's."""
        return self.cell.state_sizes

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(f"{self.name}: expected input of rank 3 (batch, time, features) "
                             f"with a known feature size, got shape {tuple(input_shape)}")
        self.cell._maybe_build((input_shape[0], int(input_shape[-1])))
        self.cell._set_weight_paths(self.name)
        self._seq = self.cell.sequence_layer(
            return_sequences=self.return_sequences, return_state=self.return_state,
            go_backwards=self.go_backwards, stateful=self.stateful, unroll=self.unroll,
            zero_output_for_mask=self.zero_output_for_mask, name=self.name)
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        B, T = input_shape[0], input_shape[1]
        out = (B, T, self.units) if self.return_sequences else (B, self.units)
        if self.return_state:
            return [out] + [(B, s) for s in self.state_size]
        return out

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        out_mask = mask if self.return_sequences else None
        if self.return_state:
            return [out_mask] + [None] * len(self.state_size)
        return out_mask

    # ---- stateful ----------------------------------------------------------------------------
    @property
    def states(self):
        """With ``stateful=True``: the final states of the last call (None after a reset)."""
        return self._seq.states if self._seq is not None else self._states

    def _reset_own_states(self, states=None):
        if self._seq is not None:
            self._seq._reset_own_states(states)
            return
        if states is None:
            self._states = None
            return
        states = list(states) if isinstance(states, (list, tuple)) else [states]
        sizes = self.cell.state_sizes
        if len(states) != len(sizes) or any(np.shape(s) != (np.shape(states[0])[0], n)
                                            for s, n in zip(states, sizes)):
            raise ValueError(f"{self.name}: reset_states expects {len(sizes)} arrays of shapes "
                             f"(batch, {sizes}), got {[np.shape(s) for s in states]}")
        self._states = [np.asarray(s, dtype=self.dtype).copy() for s in states]

    # ---- checks ------------------------------------------------------------------------------
    def _check_inputs(self, x, mask, initial_state):
        x = np.asarray(x)
        if x.dtype.kind not in "fiub":
            raise TypeError(f"{self.name}: expected a numeric input array, got dtype {x.dtype}")
        self._check_rank(x, 3, "input (batch, time, features)")
        self._maybe_build(x.shape)
        x = np.asarray(x, dtype=self.dtype)
        B, T, _ = x.shape
        if mask is not None:
            mask = np.asarray(mask)
            if mask.shape != (B, T):
                raise ValueError(f"{self.name}: expected a mask of shape {(B, T)} (batch, time), "
                                 f"got {mask.shape}")
            mask = mask.astype(bool)
        sizes = self.cell.state_sizes
        if initial_state is None and self.stateful and self._states is not None:
            if self._states[0].shape[0] != B:
                raise ValueError(f"{self.name}: this stateful layer carries states for a batch of "
                                 f"{self._states[0].shape[0]} sequences, got a batch of {B}; keep "
                                 f"the batch size fixed or call reset_states() first")
            return x, mask, list(self._states)
        if initial_state is None:
            return x, mask, self.cell.get_initial_state(B)
        flat = _flatten(initial_state)
        if len(flat) != len(sizes):
            raise ValueError(f"{self.name}: expected {len(sizes)} initial state array(s) of sizes "
                             f"{sizes}, got {len(flat)}")
        states = []
        for k, (s, n) in enumerate(zip(flat, sizes)):
            s = np.asarray(s, dtype=self.dtype)
            if s.shape != (B, n):
                raise ValueError(f"{self.name}: expected initial state {k} of shape {(B, n)}, "
                                 f"got {s.shape}")
            states.append(s)
        return x, mask, states

    # ---- forward and backward ------------------------------------------------------------------
    def forward(self, x, training=False, mask=None, initial_state=None):
        """Run the cell over a batch of sequences (see the class docstring for the outputs)."""
        if self._seq is not None or not self.built:
            self._maybe_build(np.shape(x))
        if self._seq is not None:                     # the cell's whole-sequence kernels
            out = self._seq.forward(x, training=training, mask=mask, initial_state=initial_state)
            self._cache = self._seq._cache
            return out
        return self._loop_forward(x, training, mask, initial_state)

    def backward(self, dy):
        """BPTT: dx (B, T, I), or ``[dx, *d_initial_states]`` when initial_state was given."""
        if self._seq is not None:
            self._seq._cache = self._cache            # this call's cache (shared layers)
            return self._seq.backward(dy)
        return self._loop_backward(dy)

    def _loop_forward(self, x, training, mask, initial_state):
        x, mask, states = self._check_inputs(x, mask, initial_state)
        B, T, I = x.shape
        O = self.cell.output_size
        drop = self.cell.dropout_masks(B, I, training)
        x_tm = x.transpose(1, 0, 2)                    # (T, B, I), time-major
        mask_tm = None if mask is None else mask.T     # (T, B)
        if self.go_backwards:
            x_tm = x_tm[::-1]
            mask_tm = None if mask_tm is None else mask_tm[::-1]
        carry_y0 = states[0].shape == (B, O)           # y_{-1} = s_{-1}[0], else zeros
        y_prev = states[0] if carry_y0 else np.zeros((B, O), dtype=self.dtype)
        y_seq = np.empty((T, B, O), dtype=self.dtype)
        caches = []
        for t in range(T):
            if drop is None:
                y_t, new, cache = self.cell.step(x_tm[t], states)
            else:
                y_t, new, cache = self.cell.step(x_tm[t], states, drop)
            if mask_tm is not None:                    # padded step: carry through
                m = mask_tm[t][:, None]
                new = [carry_masked(m, n, s) for n, s in zip(new, states)]
                y_t = carry_masked(m, y_t, y_prev)
            y_seq[t], states, y_prev = y_t, list(new), y_t
            caches.append(cache)
        if self.stateful:
            self._states = [s.copy() for s in states]
        if is_inference_mode():
            self._cache = _NO_CACHE
        else:
            self._cache = (caches, mask_tm, carry_y0, (B, T, I), initial_state is not None)
        if self.return_sequences:
            out = y_seq.transpose(1, 0, 2)             # (B, T, O), processing order
            if self.zero_output_for_mask and mask_tm is not None:
                out = out * mask_tm.T[:, :, None]
            out = np.ascontiguousarray(out)
        else:
            out = y_prev
        return [out] + list(states) if self.return_state else out

    def _loop_backward(self, dy):
        if self._cache is None:
            raise RuntimeError(f"{self.name}: backward() called before forward()")
        if self._cache is _NO_CACHE:
            raise RuntimeError(f"{self.name}: the last forward() ran under inference_mode(), "
                               f"which keeps nothing for backward(); run forward() outside it")
        caches, mask_tm, carry_y0, (B, T, I), had_state = self._cache
        sizes = self.cell.state_sizes
        if self.return_state:
            dy_out, d_states = dy[0], list(dy[1:])
        else:
            dy_out, d_states = dy, [None] * len(sizes)
        d_states = [np.zeros((B, n), dtype=self.dtype) if d is None
                    else np.asarray(d, dtype=self.dtype) for d, n in zip(d_states, sizes)]
        dy_seq = np.zeros((T, B, self.cell.output_size), dtype=self.dtype)
        if dy_out is not None:
            dy_out = np.asarray(dy_out, dtype=self.dtype)
            if self.return_sequences:
                dy_seq += dy_out.transpose(1, 0, 2)
                if self.zero_output_for_mask and mask_tm is not None:
                    dy_seq *= mask_tm[:, :, None]
            else:
                dy_seq[T - 1] += dy_out

        dx_tm = np.empty((T, B, I), dtype=self.dtype)
        dy_carry = 0                                    # dL/dy_{t} reaching it through y_{t+1}
        for t in reversed(range(T)):
            dy_t = dy_seq[t] + dy_carry
            d_skip = None
            if mask_tm is not None:                     # a padded step passes gradients on
                m = mask_tm[t][:, None]
                dy_t, dy_carry = carry_masked_backward(m, dy_t)
                split = [carry_masked_backward(m, d) for d in d_states]
                d_states, d_skip = [a for a, _ in split], [b for _, b in split]
            else:
                dy_carry = 0
            dx_tm[t], d_prev = self.cell.step_backward(dy_t, d_states, caches[t])
            if d_skip is not None:
                d_prev = [a + b for a, b in zip(d_prev, d_skip)]
            d_states = list(d_prev)
        if carry_y0 and mask_tm is not None:
            d_states[0] = d_states[0] + dy_carry       # y_{-1} is s_{-1}[0]
        if self.go_backwards:
            dx_tm = dx_tm[::-1]
        dx = np.ascontiguousarray(dx_tm.transpose(1, 0, 2))
        return [dx] + d_states if had_state else dx

    def streamer(self, batch_size=1, initial_state=None):
        """One step at a time for inference (:class:`~rnnkit.layers.streaming.Streamer`), for a
        built-in cell (through its whole-sequence layer, so its compiled step)."""
        if self._seq is None:
            raise TypeError(f"{self.name}: streaming works for RNN(LSTMCell / GRUCell / "
                            f"SimpleRNNCell) once built, got {type(self.cell).__name__}"
                            f"{'' if self.built else ' (not built)'}")
        return self._seq.streamer(batch_size=batch_size, initial_state=initial_state)

    # ---- config --------------------------------------------------------------------------------
    def get_config(self):
        cfg = super().get_config()
        cfg.update(
            cell=serialize(self.cell), return_sequences=self.return_sequences,
            return_state=self.return_state, go_backwards=self.go_backwards,
            stateful=self.stateful, unroll=self.unroll,
            zero_output_for_mask=self.zero_output_for_mask,
        )
        return cfg

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        cell = deserialize(config.pop("cell"), custom_objects)
        return cls(cell, **config)


def _flatten(states):
    """Initial states given flat ``[h, c]`` or nested per cell ``[[h1, c1], h2]``: flat."""
    if not isinstance(states, (list, tuple)):
        return [states]
    out = []
    for s in states:
        out += _flatten(s) if isinstance(s, (list, tuple)) else [s]
    return out
