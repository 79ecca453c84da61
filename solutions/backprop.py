"""The five functions of the homework, written the way the notebook asks for them.

Conventions (from the lecture): a network of depth L has weights ``Ws[l]`` of shape
(n_{l+1}, n_l) and biases ``bs[l]`` of shape (n_{l+1}, 1) for l = 0..L-1; every state is a
column vector; an activation or a loss returns ``(value, derivative)``.
"""

import numpy as np


def loss(yhat, y):
    """Squared loss 0.5 * (yhat - y)**2 and its derivative with respect to yhat.

    yhat: prediction, a float or an array of shape (n_L, 1).
    y: target, a float or an array broadcastable to yhat.
    Returns (l, g): l has the shape of yhat - y (sum it for the total over outputs),
    g = d l / d yhat has the shape of yhat - y.
    """
    ### BEGIN SOLUTION
    diff = yhat - y
    return 0.5 * diff**2, diff
    ### END SOLUTION


def sigmoid(z):
    """Logistic activation applied elementwise, and its derivative.

    z: a float or an array of any shape, for instance (n_l, 1).
    Returns (h, g), both shaped like z: h = 1 / (1 + exp(-z)) and g = dh/dz = h * (1 - h).
    """
    ### BEGIN SOLUTION
    # exp(-z) overflows to inf for very negative z, which gives the right limit h = 0.
    with np.errstate(over="ignore"):
        h = 1.0 / (1.0 + np.exp(-z))
    return h, h * (1.0 - h)
    ### END SOLUTION


def forward_prop(x, f, Ws, bs):
    """Forward propagation h^0 = x, z^l = W^l h^(l-1) + b^l, h^l = f(z^l).

    x: input, shape (n_0, 1).
    f: activation, f(z) -> (h, dh/dz).
    Ws, bs: lists of L arrays, Ws[l] of shape (n_{l+1}, n_l) and bs[l] of shape (n_{l+1}, 1).
    Returns (hs, zs), two lists of L + 1 column vectors: hs[0] is x, hs[l] has shape (n_l, 1);
    zs[l] = W^l h^(l-1) + b^l for l >= 1, and zs[0] is only a placeholder (zeros shaped like x).
    """
    ### BEGIN SOLUTION
    hs = [x]
    zs = [np.zeros_like(x, dtype=float)]
    for W, b in zip(Ws, bs):
        z = W @ hs[-1] + b
        h, _ = f(z)
        zs.append(z)
        hs.append(h)
    return hs, zs
    ### END SOLUTION


def backward_prop(loss, f, Ws, bs, zs, y):
    """Back-propagation of d loss / d h^l from the output down to the input.

    loss: loss(yhat, y) -> (l, d l / d yhat). f: activation, f(z) -> (h, dh/dz).
    Ws, bs: the network, as in forward_prop. zs: the list from forward_prop (L + 1 entries).
    y: the target, shape (n_L, 1) or a float.
    The prediction is f(zs[L])[0]. Returns dldhs, a list of L + 1 column vectors:
    dldhs[l] = d loss / d h^l has shape (n_l, 1); dldhs[0] is the gradient for the input x.
    """
    ### BEGIN SOLUTION
    L = len(Ws)
    yhat, _ = f(zs[L])
    _, dldyhat = loss(yhat, y)
    dldhs = [None] * (L + 1)
    dldhs[L] = dldyhat
    for l in reversed(range(L)):
        _, dhdz = f(zs[l + 1])
        # Every unit of layer l + 1 feeds every unit of layer l: the sum over i is W^T.
        dldhs[l] = Ws[l].T @ (dldhs[l + 1] * dhdz)
    return dldhs
    ### END SOLUTION


def compute_gradients(dldhs, f, zs, hs):
    """Gradients of the loss for every weight and bias, from back-propagated dldhs.

    dldhs: from backward_prop (L + 1 entries). f: the activation used in forward_prop.
    zs, hs: from forward_prop (L + 1 entries each).
    Returns (dWs, dbs), two lists of L arrays shaped like Ws and bs:
    dWs[l][i, j] = dldhs[l+1][i] * f'(zs[l+1][i]) * hs[l][j] and dbs[l][i] = dldhs[l+1][i] * f'(zs[l+1][i]).
    """
    ### BEGIN SOLUTION
    dWs, dbs = [], []
    for l in range(len(zs) - 1):
        _, dhdz = f(zs[l + 1])
        delta = dldhs[l + 1] * dhdz
        dWs.append(delta @ hs[l].T)
        dbs.append(delta)
    return dWs, dbs
    ### END SOLUTION
