# Everything right, but noisy: loss writes to stderr, sigmoid overflows (numpy warns) and warns
# for large |z| itself, backward_prop prints on every call. Output costs no points: the tests
# keep it off stderr and show only its first lines.
# base: reference
# wrong:

# %% [loss]
import sys


def loss(yhat, y):
    sys.stderr.write("loss called\n")
    diff = yhat - y
    return 0.5 * diff**2, diff

# %% [sigmoid]
import warnings


def sigmoid(z):
    if np.any(np.abs(z) > 700):
        warnings.warn("sigmoid: |z| > 700, exp overflows")
    h = 1.0 / (1.0 + np.exp(-z))  # numpy warns: overflow encountered in exp
    return h, h * (1.0 - h)

# %% [backward_prop]
def backward_prop(loss, f, Ws, bs, zs, y):
    L = len(Ws)
    print("backward_prop: depth", L, "output", np.ravel(zs[L]))
    dldhs = [None] * (L + 1)
    dldhs[L] = loss(f(zs[L])[0], y)[1]
    for l in range(L, 0, -1):
        dldhs[l - 1] = Ws[l - 1].T @ (dldhs[l] * f(zs[l])[1])
    return dldhs
