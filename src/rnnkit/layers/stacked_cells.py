"""Several cells stepped as one, Keras's ``StackedRNNCells`` (``RNN([cell_1, cell_2, ...])``).

At every step the output of cell ``k`` is the input of cell ``k + 1``; the stack's output is the
last cell's. The states are those of every cell, flattened in order (cell 1's, then cell 2's: the
order Keras's nested list flattens to), so ``RNN([LSTMCell(8), GRUCell(4)],
return_state=True)`` returns ``[y, h_1, c_1, h_2]``. The backward of a step runs the cells in
reverse: the gradient of a cell's input is the gradient of the previous cell's output.

>>> import numpy as np
>>> from rnnkit.layers import GRUCell, LSTMCell, StackedRNNCells
>>> stack = StackedRNNCells([LSTMCell(8), GRUCell(4)])
>>> stack.build((None, 3))
>>> stack.state_size, stack.output_size, stack.count_params()
([8, 8, 4], 4, 552)
"""

from .cell import Cell
from .registry import deserialize, serialize


class StackedRNNCells(Cell):
    """A list of cells stepped one after the other within each time step.

    Args:
        cells: a list of :class:`~rnnkit.layers.cell.Cell`, first (nearest the input) first.
    """

    def __init__(self, cells, **kwargs):
        super().__init__(**kwargs)
        cells = list(cells)
        if not cells:
            raise ValueError(f"{self.name}: expected at least one cell, got an empty list")
        for c in cells:
            if not isinstance(c, Cell):
                raise TypeError(f"{self.name}: expected cells (rnnkit.layers.Cell subclasses "
                                f"with state_size, step and step_backward), got "
                                f"{type(c).__name__}")
        self.cells = cells
        self._sublayers = list(cells)

    @property
    def state_size(self):
        return [s for c in self.cells for s in c.state_sizes]

    @property
    def output_size(self):
        return self.cells[-1].output_size

    def build(self, input_shape):
        B = input_shape[0]
        for c in self.cells:
            c._maybe_build((B, input_shape[-1]))
            input_shape = (B, c.output_size)
        super().build(input_shape)

    def _split(self, flat):
        """The flat list of states cut into one list per cell."""
        out, k = [], 0
        for c in self.cells:
            n = len(c.state_sizes)
            out.append(list(flat[k:k + n]))
            k += n
        return out

    def dropout_masks(self, batch_size, input_dim, training):
        drops = []
        for c in self.cells:
            drops.append(c.dropout_masks(batch_size, input_dim, training))
            input_dim = c.output_size
        return drops if any(d is not None for d in drops) else None

    def step(self, x_t, states, drop=None):
        """Every cell in order: ``(y_t of the last cell, all new states, caches)``."""
        new_states, caches = [], []
        for k, (c, s) in enumerate(zip(self.cells, self._split(states))):
            d = None if drop is None else drop[k]
            x_t, new, cache = c.step(x_t, s) if d is None else c.step(x_t, s, d)
            new_states += list(new)
            caches.append(cache)
        return x_t, new_states, caches

    def step_backward(self, dy_t, d_states, cache):
        """The cells in reverse: ``(dx_t, d_states_prev)`` flat as the states."""
        d_prev = []
        for c, ds, cc in zip(reversed(self.cells), reversed(self._split(d_states)),
                             reversed(cache)):
            dy_t, dp = c.step_backward(dy_t, ds, cc)    # d(input of c) = d(output below)
            d_prev = list(dp) + d_prev
        return dy_t, d_prev

    def get_config(self):
        cfg = super().get_config()
        for k in ("dropout", "recurrent_dropout", "seed"):
            cfg.pop(k)
        cfg["cells"] = [serialize(c) for c in self.cells]
        return cfg

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        cells = [deserialize(c, custom_objects) for c in config.pop("cells")]
        return cls(cells, **config)
