# Everything right, except a backward_prop that never returns.
# base: reference
# wrong: backward_prop

# %% [backward_prop]
def backward_prop(loss, f, Ws, bs, zs, y):
    L = len(Ws)
    dldhs = [None] * (L + 1)
    dldhs[L] = loss(f(zs[L])[0], y)[1]
    l = L
    while l > 0:  # meant to walk down the layers, but l never changes
        dldhs[l - 1] = Ws[l - 1].T @ (dldhs[l] * f(zs[l])[1])
    return dldhs
