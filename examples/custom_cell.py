"""A cell of your own: a peephole LSTM in plain NumPy, trained through ``layers.RNN(cell)``.

rnnkit's loop (:class:`rnnkit.layers.RNN`) steps any :class:`rnnkit.layers.Cell`: the cell says
its state sizes, builds its weights, and writes one step forward and its backward; nothing in
rnnkit changes. The peephole LSTM (Gers & Schmidhuber, 2000) lets the gates see the cell::

    z   = x_t W + h_prev U + b                       (B, 4H), blocks i, f, c, o
    i   = sigma(z_i + p_i * c_prev)      f = sigma(z_f + p_f * c_prev)      g = tanh(z_g)
    c_t = f * c_prev + i * g
    o   = sigma(z_o + p_o * c_t)
    h_t = o * tanh(c_t)                              y_t = h_t, states [h_t, c_t]

The script (1) checks the hand-written backward against central differences in float64, through
``RNN`` with a mask, initial states and every output, then (2) trains ``RNN(PeepholeLSTMCell)``
on the adding problem and prints its held-out MSE beside the 0.167 of always predicting the mean.

    python examples/custom_cell.py --quick       # seconds: the gradient check and a short run
    python examples/custom_cell.py               # a longer run (T = 30, 20 epochs)

Writes ``<out>/metrics.json`` (default ``runs/custom_cell``) as every example does.

Measured (seed 0): gradient check max relative error 6.3e-10; the longer run's held-out MSE
0.0017 (the mean's 0.167); the quick run's 0.120 (seeds 0-4: 0.120-0.147).
"""

import sys
import time

import numpy as np

import rnnkit
from rnnkit import layers, optimizers
from rnnkit.datasets import adding_problem
from rnnkit.datasets.adding import BASELINE_MSE


def sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


class PeepholeLSTMCell(layers.Cell):
    """An LSTM whose gates also see the cell state (diagonal peephole weights p_i, p_f, p_o)."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = [units, units]                 # h, c

    def build(self, input_shape):                        # (B, I)
        H = self.units
        self.kernel = self.add_weight("kernel", (input_shape[-1], 4 * H), "glorot_uniform")
        self.recurrent_kernel = self.add_weight("recurrent_kernel", (H, 4 * H), "orthogonal")
        self.peephole = self.add_weight("peephole", (3, H), "zeros")       # p_i, p_f, p_o
        self.bias = self.add_weight("bias", (4 * H,), "zeros")
        super().build(input_shape)

    def step(self, x_t, states):
        h_prev, c_prev = states                                             # (B, H) each
        H = self.units
        p_i, p_f, p_o = self.peephole.value
        z = x_t @ self.kernel.value + h_prev @ self.recurrent_kernel.value + self.bias.value
        i = sigmoid(z[:, :H] + p_i * c_prev)
        f = sigmoid(z[:, H:2 * H] + p_f * c_prev)
        g = np.tanh(z[:, 2 * H:3 * H])
        c_t = f * c_prev + i * g
        o = sigmoid(z[:, 3 * H:] + p_o * c_t)
        tc = np.tanh(c_t)
        h_t = o * tc
        return h_t, [h_t, c_t], (x_t, h_prev, c_prev, i, f, g, o, c_t, tc)

    def step_backward(self, dy_t, d_states, cache):
        x_t, h_prev, c_prev, i, f, g, o, c_t, tc = cache
        p_i, p_f, p_o = self.peephole.value
        dh = dy_t + d_states[0]                  # y_t and the state h_t are one value
        # h_t = o * tanh(c_t) ;  o = sigma(z_o + p_o c_t)
        dz_o = dh * tc * o * (1 - o)
        dc = d_states[1] + dh * o * (1 - tc * tc) + dz_o * p_o
        # c_t = f * c_prev + i * g
        dz_i = dc * g * i * (1 - i)
        dz_f = dc * c_prev * f * (1 - f)
        dz_g = dc * i * (1 - g * g)
        dc_prev = dc * f + dz_i * p_i + dz_f * p_f
        # peepholes: p_i, p_f see c_prev, p_o sees c_t
        self.peephole.grad += np.stack([(dz_i * c_prev).sum(0), (dz_f * c_prev).sum(0),
                                        (dz_o * c_t).sum(0)])
        # z = x_t W + h_prev U + b
        dz = np.concatenate([dz_i, dz_f, dz_g, dz_o], axis=1)              # (B, 4H)
        self.kernel.grad += x_t.T @ dz
        self.recurrent_kernel.grad += h_prev.T @ dz
        self.bias.grad += dz.sum(axis=0)
        return dz @ self.kernel.value.T, [dz @ self.recurrent_kernel.value.T, dc_prev]

    def get_config(self):
        return dict(super().get_config(), units=self.units)


def max_gradient_error(seed=0, eps=1e-6):
    """The largest relative gap between backward and central differences (float64), over every
    weight, the input and the initial states of ``RNN(PeepholeLSTMCell(3))`` with a mask."""
    rnnkit.config.set_floatx("float64")
    try:
        rng = np.random.default_rng(seed)
        layer = layers.RNN(PeepholeLSTMCell(3), return_sequences=True, return_state=True)
        layer.build((None, None, 4))
        layer.set_weights([rng.standard_normal(w.shape) * 0.5 for w in layer.weights])
        x = rng.standard_normal((2, 5, 4))
        s0 = [rng.standard_normal((2, 3)), rng.standard_normal((2, 3))]
        mask = np.array([[1, 1, 1, 0, 0], [0, 1, 1, 1, 1]], dtype=bool)
        outs = layer(x, mask=mask, initial_state=s0)
        w_out = [rng.standard_normal(o.shape) for o in outs]

        def loss():
            return sum(float(np.sum(w * o)) for w, o in
                       zip(w_out, layer(x, mask=mask, initial_state=s0)))

        loss()
        layer.zero_grad()
        dx, *ds0 = layer.backward(w_out)
        pairs = [(w.grad.copy(), w.value) for w in layer.weights] + [(dx, x)]
        pairs += list(zip(ds0, s0))
        worst = 0.0
        for analytic, array in pairs:
            numeric = np.zeros_like(array)
            for k in np.ndindex(array.shape):
                old = array[k]
                array[k] = old + eps
                up = loss()
                array[k] = old - eps
                numeric[k] = (up - loss()) / (2 * eps)
                array[k] = old
            worst = max(worst, float(np.max(np.abs(analytic - numeric)) /
                                     max(1.0, float(np.max(np.abs(numeric))))))
        return worst
    finally:
        rnnkit.config.set_floatx("float32")


def train(T, epochs, seed, n_train=2000, units=16):
    """``RNN(PeepholeLSTMCell(units)) -> Dense(1)`` on the adding problem; held-out MSE."""
    rnnkit.random.set_random_seed(seed)
    x, y = adding_problem(n_train, T, seed=seed)
    xv, yv = adding_problem(500, T, seed=seed + 1)
    model = rnnkit.Sequential([layers.Input((T, 2)), layers.RNN(PeepholeLSTMCell(units)),
                               layers.Dense(1)])
    model.compile(optimizer=optimizers.Adam(0.01), loss="mse")
    model.fit(x, y, batch_size=50, epochs=epochs, verbose=0, seed=seed)
    return float(np.mean((model.predict(xv, verbose=0) - yv) ** 2))


def main(argv=None):
    # the shared command line and report (metrics.json), imported here so that the tests can
    # import this file for its cell without examples/ on the path
    from _common import finish_args, parser, report

    p = parser("custom_cell", __doc__.splitlines()[0])
    args = finish_args(p, p.parse_args(argv), full_epochs=20, quick_epochs=8)
    err = max_gradient_error(args.seed)
    print(f"gradient check (float64, central differences): max relative error {err:.1e}")
    if err > 1e-6:
        print("the hand-written backward disagrees with finite differences", file=sys.stderr)
        return 1
    T = 10 if args.quick else 30
    start = time.perf_counter()
    mse = train(T, args.epochs, args.seed, n_train=600 if args.quick else 2000)
    report(args.out, "custom_cell", "MSE", mse, BASELINE_MSE, "predicting the mean",
           higher_is_better=False, train_seconds=time.perf_counter() - start,
           gradient_check_error=err, T=T, epochs=args.epochs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
