"""Run a PyTorch recurrent module and rnnkit's layer on the same inputs and the same loss.

The loss is ``L = sum(w_y * y) + sum_k sum(w_k * state_k)`` with fixed random weights, so every
output and final state contributes to every gradient.
"""

import numpy as np
import torch


def torch_run(module, x, hx, w_y, w_states, lengths=None):
    """Forward + autograd through a batch_first torch RNN/LSTM/GRU in float64.

    ``hx``: list of (B, H) initial states ([h0] or [h0, c0]); ``lengths`` packs the batch
    (right padding) with pack_padded_sequence. Returns y (B, T, H) with zeros at padded steps,
    final states, d_x, d_states0 and ``{name: grad}`` for the module's parameters.
    """
    xt = torch.tensor(x, requires_grad=True)
    hxt = [torch.tensor(h[None], requires_grad=True) for h in hx]   # (1, B, H)
    inp = xt
    if lengths is not None:
        inp = torch.nn.utils.rnn.pack_padded_sequence(xt, lengths, batch_first=True,
                                                      enforce_sorted=False)
    out, states = module(inp, tuple(hxt) if len(hxt) == 2 else hxt[0])
    if lengths is not None:
        out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True,
                                                        total_length=x.shape[1])
    states = list(states) if isinstance(states, tuple) else [states]
    loss = (out * torch.tensor(w_y)).sum()
    for s, w in zip(states, w_states):
        loss = loss + (s[0] * torch.tensor(w)).sum()
    loss.backward()
    grads = {name: p.grad.numpy().copy() for name, p in module.named_parameters()}
    return (out.detach().numpy(), [s[0].detach().numpy() for s in states], xt.grad.numpy(),
            [h.grad[0].numpy() for h in hxt], grads)


def ours_run(layer, x, states0, w_y, w_states, mask=None):
    """Forward + hand-written backward of an rnnkit recurrent layer with return_sequences and
    return_state set; same loss as :func:`torch_run`."""
    y, *states = layer.forward(x, mask=mask, initial_state=states0)
    layer.zero_grad()
    dx, *d_states0 = layer.backward([w_y] + list(w_states))
    return y, states, dx, d_states0, {w.name: w.grad.copy() for w in layer.weights}


def random_torch_params(module, rng, scale=0.5):
    """Fill every parameter of ``module`` with random non-zero values."""
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.tensor(rng.uniform(0.1, 1.0, p.shape) * rng.choice([-1, 1], p.shape)
                                 * scale))
