# loss, sigmoid and forward_prop done; backward_prop only started, compute_gradients untouched.
# base: release
# wrong: backward_prop, compute_gradients

# %% [loss]
def loss(yhat, y):
    return 0.5 * (yhat - y) ** 2, yhat - y

# %% [sigmoid]
def sigmoid(z):
    h = 1 / (1 + np.exp(-z))
    return h, h * (1 - h)

# %% [forward_prop]
def forward_prop(x, f, Ws, bs):
    hs = [x]
    zs = [np.zeros_like(x)]
    for l in range(len(Ws)):
        zs.append(Ws[l] @ hs[l] + bs[l])
        hs.append(f(zs[l + 1])[0])
    return hs, zs

# %% [backward_prop]
def backward_prop(loss, f, Ws, bs, zs, y):
    L = len(Ws)
    dldhs = [None] * (L + 1)
    dldhs[L] = loss(f(zs[L])[0], y)[1]
    # TODO: the recursion down to dldhs[0]
    return dldhs
