# Everything right, except that forward_prop lost a colon: its cell does not define it at all.
# base: reference
# wrong: forward_prop

# %% [forward_prop]
def forward_prop(x, f, Ws, bs):
    hs, zs = [x], [np.zeros_like(x)]
    for W, b in zip(Ws, bs)
        zs.append(W @ hs[-1] + b)
        hs.append(f(zs[-1])[0])
    return hs, zs
