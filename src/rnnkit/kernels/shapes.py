"""The one shape check every backward kernel makes before touching its gradients.

The layers check ``dy`` at their boundary (:mod:`rnnkit.layers.checks`); this guards the
kernels called directly: no broadcasting of a (1, 1) or (H,) gradient in the NumPy reference,
no out-of-bounds access in the compiled kernels.
"""

import numpy as np


def check_backward_grads(who, dh_seq, final_grads, T, B, H):
    """Raise ValueError unless ``dh_seq`` is (T, B, H) and each final-state gradient is None or
    (B, H)."""
    if np.shape(dh_seq) != (T, B, H):
        raise ValueError(f"{who}: expected dh_seq of shape {(T, B, H)} (time, batch, units), "
                         f"got {np.shape(dh_seq)}")
    for g in final_grads:
        if g is not None and np.shape(g) != (B, H):
            raise ValueError(f"{who}: expected a final-state gradient of shape {(B, H)}, "
                             f"got {np.shape(g)}")
