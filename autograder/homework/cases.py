"""The hidden inputs, built deterministically from spec: networks, samples, targets."""

from dataclasses import dataclass
from functools import cache

import numpy as np

from solutions import helpers

from . import spec


@dataclass(frozen=True)
class Network:
    """One hidden network: weights, one input sample and its target, and its activation.

    Ws[l]: (n_{l+1}, n_l); bs[l]: (n_{l+1}, 1); x: (n_0, 1); y: (n_L, 1);
    activation: the name of a reference collaborator (sigmoid, tanh or identity).
    """

    sizes: tuple[int, ...]
    activation: str
    Ws: list
    bs: list
    x: np.ndarray
    y: np.ndarray

    @property
    def label(self) -> str:
        return f"a {'-'.join(map(str, self.sizes))} network with {self.activation}"


@cache
def networks() -> tuple[Network, ...]:
    rng = np.random.default_rng(spec.NETWORK_SEED)
    built = []
    for sizes, activation in spec.NETWORKS:
        Ws, bs = helpers.random_network(sizes, rng, scale=0.8)
        x = rng.standard_normal((sizes[0], 1))
        y = rng.random((sizes[-1], 1))
        built.append(Network(tuple(sizes), activation, Ws, bs, x, y))
    return tuple(built)


def xor_inputs() -> list[np.ndarray]:
    """The four XOR inputs 00, 01, 10, 11 as (2, 1) columns, in the lecture's order."""
    return [np.array([[a], [b]]) for a in (0.0, 1.0) for b in (0.0, 1.0)]


@cache
def training_run():
    """The deterministic training set-up: (x (2, N), y (1, N), Ws, bs)."""
    x, y = helpers.noisy_xor(spec.TRAINING_SAMPLES, np.random.default_rng(spec.TRAINING_SEED))
    Ws, bs = helpers.random_network(spec.TRAINING_SIZES, np.random.default_rng(spec.TRAINING_SEED + 1))
    return x, y, Ws, bs


# Inputs for the elementwise functions. Loss pairs (yhat, y) cover floats, a column with a
# float target (as in the training loop) and several outputs.
LOSS_CASES = (
    (0.3, 1.0),
    (np.array([[0.8]]), 0.0),
    (np.array([[0.25]]), np.array([[1.0]])),
    (np.array([[0.1], [-0.4], [2.5]]), np.array([[0.0], [1.0], [2.0]])),
)
SIGMOID_CASES = (
    np.linspace(-6.0, 6.0, 7).reshape(7, 1),
    np.array([[0.5, -1.5, 3.0], [-0.25, 2.0, -4.0]]),
    0.3,
)
# Past |z| = 709.78, exp(|z|) overflows to inf: the lecture's 1 / (1 + exp(-z)) still gives the
# right limits, but exp(z) / (1 + exp(z)) or exp(-z) / (1 + exp(-z))**2 give nan there. Both
# sides, for h and g.
SIGMOID_EXTREMES = np.array([[-1000.0], [-710.0], [-100.0], [100.0], [500.0], [710.0], [1000.0]])
