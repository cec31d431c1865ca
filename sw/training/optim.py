"""Optimizers run on the host (the MemoryX role) on fp32 master weights.

Each keeps its state as named arrays per layer (the weights' dtype) so the weight store can checkpoint and
memory-map it. Updates touch only the mask's positions: pruned weights stay exactly zero and
their state stays zero.
"""

import math

import numpy as np

__all__ = ["Sgd", "Adam", "make_optimizer", "OPTIMIZERS", "LR_SCHEDULES", "lr_factor"]

OPTIMIZERS = ("sgd", "adam")
#: Learning-rate schedules over a run's epochs (:func:`lr_factor`).
LR_SCHEDULES = ("cosine", "constant")


def lr_factor(schedule, epoch, epochs):
    """What the learning rate is multiplied by in epoch ``epoch`` (0-based) of a run of
    ``epochs``: ``"cosine"`` anneals it from 1 in the first epoch toward 0,
    ``(1 + cos(pi * epoch / epochs)) / 2``; ``"constant"`` keeps 1. ``ValueError`` for another
    name."""
    if schedule == "constant":
        return 1.0
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * epoch / epochs))
    raise ValueError(f"Learning-rate schedule must be one of {', '.join(LR_SCHEDULES)}, not "
                     f"{schedule!r}")


class Sgd:
    """SGD with momentum: ``v = mu v + g``; ``w -= lr v`` (``lr`` > 0, ``0 <= mu < 1``)."""
    name = "sgd"
    state_names = ("velocity",)

    def __init__(self, lr=0.1, momentum=0.9):
        if not lr > 0:
            raise ValueError(f"Learning rate must be positive, not {lr!r}")
        if not 0 <= momentum < 1:
            raise ValueError(f"Momentum must be in [0, 1), not {momentum!r}")
        self.lr, self.momentum = float(lr), float(momentum)

    def step(self, weights, grad, mask, state, t):
        v = state["velocity"]
        v *= np.float32(self.momentum)
        v += grad
        v *= mask
        weights -= np.float32(self.lr) * v
        weights *= mask


class Adam:
    """Adam (Kingma and Ba) with bias correction; ``lr`` > 0, betas in [0, 1)."""
    name = "adam"
    state_names = ("m", "v")

    def __init__(self, lr=0.003, beta1=0.9, beta2=0.999, eps=1e-8):
        if not lr > 0:
            raise ValueError(f"Learning rate must be positive, not {lr!r}")
        for name, b in (("beta1", beta1), ("beta2", beta2)):
            if not 0 <= b < 1:
                raise ValueError(f"Adam {name} must be in [0, 1), not {b!r}")
        self.lr, self.beta1, self.beta2, self.eps = float(lr), beta1, beta2, eps

    def step(self, weights, grad, mask, state, t):
        """``t``: the update's number, from 1."""
        m, v = state["m"], state["v"]
        m *= np.float32(self.beta1)
        m += np.float32(1 - self.beta1) * grad
        v *= np.float32(self.beta2)
        v += np.float32(1 - self.beta2) * grad * grad
        m_hat = m / np.float32(1 - self.beta1 ** t)
        v_hat = v / np.float32(1 - self.beta2 ** t)
        weights -= (np.float32(self.lr) * m_hat / (np.sqrt(v_hat) + np.float32(self.eps))
                    ).astype(weights.dtype) * mask
        weights *= mask


def make_optimizer(name, lr=None):
    """``"sgd"`` or ``"adam"`` with its default learning rate unless ``lr`` is given."""
    kinds = {"sgd": Sgd, "adam": Adam}
    if name not in kinds:
        raise ValueError(f"Optimizer must be one of {', '.join(OPTIMIZERS)}, not {name!r}")
    return kinds[name]() if lr is None else kinds[name](lr=lr)
