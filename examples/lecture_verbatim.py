# The lecture's code pasted into the answer cells as it is, Python 2 prints left out.
# Its backward_prop reads the global hs and assigns instead of adding up over i; its
# compute_gradients is the fragment the lecture shows.
# base: release
# wrong: backward_prop, compute_gradients

# %% [loss]
def loss(yhat,y):
    # loss(yhat,y)
    l = 0.5*(yhat - y)**2.0
    # d loss(yhat,y) / d yhat
    g = (yhat - y)
    return l,g

# %% [sigmoid]
def sigmoid(z):
    # if z is a vector
    # h is a vector of outputs
    # g is derivative of f at each z
    h = 1.0/(1.0 + np.exp(-z))
    g = h*(1.0 - h)
    return h,g

# %% [forward_prop]
def forward_prop(x,f,Ws,bs):
    # simple implementation of forward prop
    hs = [x]                # store h^0
    zs = [np.zeros(len(x))] # store z^0
    h = x                   # current layer is 0
    L = len(Ws)
    for l in range(L):
        Wl = Ws[l]            # get layer weights
        bl = bs[l]            # get layer biases
        nl = Wl.shape[0]      # number of variables in
                              # layer l
        z = np.dot(Wl,h) + bl # input into layer l
        h,_ = f(z)            # activation for each z
        zs.append(z)
        hs.append(h)
    return hs,zs

# %% [backward_prop]
def backward_prop(loss,f,Ws,bs,zs,y):
    _,dldh = loss(hs[-1],y)
    L = len(Ws)
    dldhs = [[]]*(L+1) # one per layer
    dldhs[L] = dldh # derivative of loss with respect to
                    # prediction (yhat)
    for l in reversed(range(L)):
        Wl = Ws[l]
        bl = bs[l]
        nl = Wl.shape[0]
        n = Wl.shape[1]
        dldhs[l] = np.zeros((n,1))
        for i in range(nl):
            _,df = f(zs[l+1][i])
            m = dldhs[l+1][i]*df
            for j in range(n):
                dldhs[l][j] = m*Wl[i,j]
    return dldhs

# %% [compute_gradients]
def compute_gradients(dldhs,f,zs,hs):
    dbs[l] = dldhs[l+1][i]*g
    return dWs,dbs
