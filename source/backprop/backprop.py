# The reviewable source of backprop.ipynb (cell markers: see autograder/authoring/build_notebook.py).
# Edit this file, then run `make notebook` (or `make release`); never edit the .ipynb by hand.
# Answer cells come from solutions/backprop.py, given helpers from solutions/helpers.py,
# points and hidden checks from autograder/homework/spec.py.

# %% [markdown]
# # Fitting a neural network with back-propagation
#
# In this homework you write, in numpy, the pieces that train a small neural network: a loss,
# an activation, **forward propagation**, **back-propagation** and the **gradients** of the
# loss for every weight and bias. You then check your gradients against finite differences and
# train a network to compute XOR from noisy inputs.
#
# **How to work.** Fill in the five cells that say `# YOUR CODE HERE` (delete the
# `raise NotImplementedError()` line), one function each. Under each function a test cell checks
# it; run it, and read its message if it fails. When everything passes, use *Kernel → Restart &
# Run All* once before you submit, so that the notebook works from top to bottom.
#
# **How you are graded.** Each test cell is worth points, <<spec: total_points>> in all (table below).
# Most cells also run hidden tests when your notebook is graded: your functions on
# <<spec: networks_summary>> (by layer sizes and activation: <<spec: networks_list>>), their
# robustness, and a short training run. The hidden tests of a function use *correct* versions of
# the other functions, so a mistake in one function only costs that function's points; only
# <<spec: combined_cells>> judge your functions together.
#
# <<spec: points_table>>
#
# **Conventions** (the lecture's). Every vector is a column: a sample $\mathbf{x}$ with $n_0$
# features has shape `(n0, 1)`. A network of depth $L$ is two Python lists `Ws` and `bs` of $L$
# arrays each; because Python counts from 0, `Ws[l]` holds $\mathbf{W}^{l+1}$, of shape
# `(n_{l+1}, n_l)`, and `bs[l]` holds $\mathbf{b}^{l+1}$, of shape `(n_{l+1}, 1)`. Layer 0 is the
# input and has no parameters; messages name the parameters of layer $l$ as the lecture does, with
# the code's index beside them: `W^1, b^1 (Ws[0], bs[0])`. An activation or a loss returns a pair
# *(value, derivative)*.
#
# Use only numpy. Do not read or change variables defined outside your function: use its arguments.

# %% [given] imports
import builtins
import contextlib
import copy
import io
import signal
import sys
import time
import types
import warnings

import matplotlib.pyplot as plt
import numpy
import numpy as np

# The given code keeps its names in a module of its own, `given` (backprop_given): the helpers and
# the tests find numpy, Python's builtins and each other there, so nothing your cells define or
# import changes them (`from numpy import *` replaces sum, max, abs, round, ...; you may also write
# a `train` of your own). `@given.own` puts a helper there; you call the helpers as usual. A given
# cell does not replace a name your cells defined before it: `given.tanh` is always the given tanh.
# The test cells use three names only, bound here too: builtins, numpy and given.
given = sys.modules.get("backprop_given") or types.ModuleType("backprop_given", "The notebook's given code.")
vars(given).update(__builtins__=builtins, contextlib=contextlib, copy=copy, io=io, np=np, signal=signal,
                   time=time, warnings=warnings)
sys.modules[given.__name__] = given


# <<helper: own>>


own = own(own)

# The tests below run your functions inside `with student_code(...)`: it stops a function that
# runs too long (an endless loop) instead of hanging, names a function you have not written yet,
# and shows only the first lines of what your functions print or warn. They compute what your
# functions should return from copies of the arguments taken before the call, and check that the
# call left its arguments as they were (before_call, assert_unchanged).


# <<helper: TimeLimitExceeded>>


# <<helper: time_limit>>


# <<helper: CappedOutput>>


# <<helper: capped_output>>


# <<helper: homework_functions>>


# <<helper: describe_failure>>


# <<helper: student_code>>


# <<helper: before_call>>


# <<helper: _same>>


# <<helper: assert_unchanged>>


# <<helper: parameter_layer_name>>

# %% [given] stand_ins
import backprop_given as given  # the given code's own module (see the first cell)


# Stand-ins the tests hand to the function under test, so that each test judges one function.


# <<helper: logistic>>


# <<helper: double>>


# <<helper: half_squares>>

# %% [markdown]
# ## 1. The loss
#
# A network's output $\hat y(\mathbf{x})$ is judged by a loss. Over a data set of samples
# $(\mathbf{x}^t, y^t)$ the objective is the total loss
#
# $$E = \sum_t \mathrm{loss}(\hat y(\mathbf{x}^t), y^t).$$
#
# For a continuous target we use the **squared loss** $\mathrm{loss}(\hat y, y) = \frac12 (y - \hat y)^2$,
# whose derivative is $\partial\,\mathrm{loss} / \partial \hat y = \hat y - y$ (the $\frac12$ is there
# to cancel the 2). For a binary target $y \in \{0, 1\}$ and a prediction $\hat y \in (0, 1)$ one
# often uses the **binary (cross-entropy) loss**
# $\mathrm{loss}(\hat y, y) = -y \log \hat y - (1 - y) \log(1 - \hat y)$.
#
# *Sanity check.* Is each loss larger when $\hat y \ne y$ than when $\hat y = y$? (Take
# $0 \log 0 = 0$.) For the squared loss the minimum, 0, is at $\hat y = y$. For the binary loss with
# $y = 1$ only $-\log \hat y$ remains, which is 0 at $\hat y = 1$ and grows without bound as
# $\hat y \to 0$; $y = 0$ is symmetric.
#
# With several outputs, $\hat y$ and $y$ are columns of shape `(n_L, 1)` and the loss is applied
# to each output; the loss of the sample is the sum over outputs.
#
# **Write `loss`**: the squared loss and its derivative, elementwise. It must work for floats and
# for arrays, and `g` must have the shape of `yhat - y`.

# %% [answer] loss

# %% [test] test_loss_basic
import builtins, numpy, backprop_given as given  # this cell's names: nothing your cells define changes them

args = {"yhat": numpy.array([[0.7]]), "y": numpy.array([[1.0]])}
args2 = {"yhat": numpy.array([[1.0], [2.0]]), "y": numpy.array([[1.0], [0.0]])}
before, before2 = given.before_call(args), given.before_call(args2)
with given.student_code("loss", seconds=2):
    l, g = loss(*args.values())
    l2, g2 = loss(*args2.values())
given.assert_unchanged("loss", args, before)
given.assert_unchanged("loss", args2, before2)
assert numpy.isclose(numpy.sum(l), 0.045), f"loss(0.7, 1.0) should be 0.5 * (0.7 - 1)**2 = 0.045, got {l}"
assert numpy.shape(g) == (1, 1), f"g should be shaped like yhat, (1, 1), got shape {numpy.shape(g)}"
assert numpy.allclose(g, -0.3), f"g = d loss / d yhat = yhat - y should be -0.3, got {g}"
assert numpy.isclose(numpy.sum(l2), 2.0), f"for two outputs the losses should sum to 0 + 2 = 2, got {l2}"
assert numpy.allclose(g2, [[0.0], [2.0]]), f"g should be [[0], [2]], got {g2}"
builtins.print("loss passes the visible tests")

# %% [test] test_loss_hidden
# Hidden tests of loss run here when your notebook is graded.

# %% [markdown]
# ## 2. The activation
#
# Each layer applies an activation function $f$ to every entry of its input:
# $\mathbf{f}(\mathbf{z})_i = f(z_i)$. We use the logistic **sigmoid**
#
# $$\sigma(z) = \frac{1}{1 + e^{-z}}, \qquad \sigma'(z) = \sigma(z)\,(1 - \sigma(z)).$$
#
# **Write `sigmoid`**: return $h = \sigma(z)$ and $g = \sigma'(z)$, both shaped like `z`.
#
# Your sigmoid must be finite and right for **every** `z`, however large. `np.exp` overflows to
# `inf` past $|z| \approx 709$: for very negative `z`, `np.exp(-z)` is `inf` and numpy warns, but
# $1 / (1 + \infty) = 0$ is still right (the tests ignore the warning). Other ways of writing the
# same formula break there: $e^z / (1 + e^z)$ gives $\infty / \infty =$ `nan` for $z > 709$. The
# tests check $z = \pm 710$ and $\pm 1000$: $h$ must be 0 on the negative side and 1 on the
# positive side, and $g$ must be 0 on both, never `nan`.

# %% [answer] sigmoid

# %% [test] test_sigmoid_basic
import builtins, numpy, backprop_given as given  # this cell's names: nothing your cells define changes them

z_far = numpy.array([[-1000.0], [-710.0], [710.0], [1000.0]])  # past exp's overflow on both sides
args, args_far = {"z": numpy.array([[0.0], [2.0]])}, {"z": z_far}
before, before_far = given.before_call(args), given.before_call(args_far)
with given.student_code("sigmoid", seconds=2):
    h, g = sigmoid(*args.values())
    h_far, g_far = sigmoid(*args_far.values())
given.assert_unchanged("sigmoid", args, before)
given.assert_unchanged("sigmoid", args_far, before_far)
assert numpy.shape(h) == (2, 1) and numpy.shape(g) == (2, 1), \
    f"h and g should be shaped like z, (2, 1); got {numpy.shape(h)} and {numpy.shape(g)}"
assert numpy.allclose(h, [[0.5], [0.8807970779778823]]), f"sigmoid(0) = 0.5 and sigmoid(2) = 0.8808, got {h}"
assert numpy.allclose(g, [[0.25], [0.10499358540350662]]), f"g = h * (1 - h) should be [[0.25], [0.105]], got {g}"
assert numpy.shape(h_far) == (4, 1) and numpy.shape(g_far) == (4, 1), \
    f"h and g should be shaped like z, (4, 1); got {numpy.shape(h_far)} and {numpy.shape(g_far)}"
assert numpy.all(numpy.isfinite(h_far)) and numpy.all(numpy.isfinite(g_far)), \
    f"at z = -1000, -710, 710, 1000 sigmoid must stay finite; got h = {numpy.ravel(h_far)}, g = {numpy.ravel(g_far)}"
assert numpy.allclose(h_far, [[0.0], [0.0], [1.0], [1.0]]), \
    f"at z = -1000, -710, 710, 1000, h should be 0, 0, 1, 1; got {numpy.ravel(h_far)}"
assert numpy.allclose(g_far, 0.0), f"at z = -1000, -710, 710, 1000, g should be 0; got {numpy.ravel(g_far)}"
builtins.print("sigmoid passes the visible tests")

# %% [test] test_sigmoid_hidden
# Hidden tests of sigmoid run here when your notebook is graded.

# %% [markdown]
# ## 3. Forward propagation
#
# A deep network is a stack of layers. Layer $l$ has $n_l$ units; layer 0 is the input, so
# $n_0$ is the number of features. Layer $l > 0$ has a weight matrix $\mathbf{W}^l$ of shape
# $n_l \times n_{l-1}$ and a bias $\mathbf{b}^l$ of length $n_l$. Forward propagation computes,
# for $l = 1, \dots, L$,
#
# $$\mathbf{h}^0 = \mathbf{x}, \qquad
#   \mathbf{z}^l = \mathbf{W}^l \mathbf{h}^{l-1} + \mathbf{b}^l, \qquad
#   \mathbf{h}^l = \mathbf{f}(\mathbf{z}^l),$$
#
# and the network's prediction is the last layer's state, $\hat y(\mathbf{x}) = \mathbf{h}^L$.
# We keep every $\mathbf{z}^l$ and $\mathbf{h}^l$, because back-propagation needs them.
#
# **Write `forward_prop`**: return the lists `hs` and `zs` of $L + 1$ columns each, with
# `hs[0] = x`. `zs[0]` is never used (layer 0 has no input); put a placeholder there, for example
# zeros shaped like `x`. Call the activation you are given, `f`, not `sigmoid`.

# %% [answer] forward_prop

# %% [test] test_forward_prop_xor
import builtins, numpy, backprop_given as given  # this cell's names: nothing your cells define changes them

# The lecture's XOR network with F = 5, with the stand-in `logistic` as the activation, so that
# this test only judges forward_prop.
Ws_xor = [5.0 * numpy.array([[1.0, -1.0], [-1.0, 1.0]]), 5.0 * numpy.array([[1.0, 1.0]])]
bs_xor = [5.0 * numpy.array([[-0.5], [-0.5]]), 5.0 * numpy.array([[-0.5]])]
expected_xor = {(0, 0): 0.149133, (0, 1): 0.893164, (1, 0): 0.893164, (1, 1): 0.149133}
calls = {(x1, x2): {"x": numpy.array([[x1], [x2]], dtype=numpy.float64), "f": given.logistic,
                    "Ws": Ws_xor, "bs": bs_xor}
         for x1, x2 in expected_xor}
befores = {inputs: given.before_call(args) for inputs, args in calls.items()}
with given.student_code("forward_prop", seconds=2):
    passes = {inputs: forward_prop(*args.values()) for inputs, args in calls.items()}
for inputs, args in calls.items():
    given.assert_unchanged("forward_prop", args, befores[inputs])
for (x1, x2), expected in expected_xor.items():
    hs, zs = passes[x1, x2]
    assert builtins.len(hs) == 3 and builtins.len(zs) == 3, \
        f"a 2-layer network needs 3 entries in hs and zs, got {builtins.len(hs)} and {builtins.len(zs)}"
    assert numpy.array_equal(hs[0], [[x1], [x2]]), "hs[0] should be the input x"
    assert numpy.shape(hs[1]) == (2, 1) and numpy.shape(hs[2]) == (1, 1), \
        f"hs[1] should have shape (2, 1) and hs[2] (1, 1), got {numpy.shape(hs[1])} and {numpy.shape(hs[2])}"
    assert numpy.isclose(hs[2].item(), expected, atol=5e-7), \
        f"XOR({x1}, {x2}): the output should be {expected}, got {hs[2].item():.6f}"
builtins.print("forward_prop passes the visible tests")

# %% [test] test_forward_prop_hidden
# Hidden tests of forward_prop run here when your notebook is graded.

# %% [markdown]
# ### The XOR network
#
# The lecture's network computes XOR with two hidden units: $h_1$ fires for input $(1, 0)$, $h_2$
# for $(0, 1)$, and the output fires when either does. With $\mathbf{F} = <<spec: xor_f>>$ scaling every weight
# the outputs are <<spec: xor_outputs>> for the inputs 00, 01, 10 and 11.
# Run the cell below with your own functions.

# %% [given] helpers_networks
import backprop_given as given  # the given code's own module (see the first cell)


# <<helper: xor_network>>


# <<helper: random_network>>


# <<helper: tanh>>


# <<helper: identity>>

# %% [code]
Ws, bs = xor_network(F=5.0)
with student_code("forward_prop", seconds=5):
    for x1 in [0.0, 1.0]:
        for x2 in [0.0, 1.0]:
            x = np.array([[x1], [x2]])
            hs, zs = forward_prop(x, sigmoid, Ws, bs)
            print("Input:", x.ravel(), "Output:", hs[-1].item())

# %% [markdown]
# ## 4. Back-propagation
#
# To fit the network we need the derivative of the loss of one sample with respect to every weight
# $w^l_{ij}$ and bias $b^l_i$. By the chain rule,
#
# $$\frac{\partial\,\mathrm{loss}}{\partial w^l_{ij}} =
#   \frac{\partial\,\mathrm{loss}}{\partial h^l_i}\;\frac{\partial h^l_i}{\partial w^l_{ij}},$$
#
# so we split the work in two: how much the loss depends on each hidden unit
# $\partial\,\mathrm{loss}/\partial h^l_i$ (this section), and how each unit depends on its own
# parameters (next section). All derivatives are evaluated at the values forward propagation
# computed for the sample.
#
# A unit $h^{l-1}_j$ influences the loss only through the units of layer $l$ it feeds, through
# $z^l_i = \sum_j w^l_{ij} h^{l-1}_j + b^l_i$. Adding up those paths (the total derivative) gives a
# recursion that runs **backwards** from the output:
#
# $$\frac{\partial\,\mathrm{loss}}{\partial h^L_i} = \frac{\partial\,\mathrm{loss}(\hat y, y)}{\partial \hat y_i}
#   \quad\text{(since } \hat y = \mathbf{h}^L\text{)},$$
#
# $$\frac{\partial\,\mathrm{loss}}{\partial h^{l-1}_j} = \sum_{i=1}^{n_l}
#   \frac{\partial\,\mathrm{loss}}{\partial h^l_i}\, f'(z^l_i)\, w^l_{ij}
#   \qquad\text{for } l = L, \dots, 1.$$
#
# Note the indices: the sum runs over the units $i$ of layer $l$, and the result is for unit $j$
# of layer $l - 1$. In matrix form,
# $\partial\mathrm{loss}/\partial\mathbf{h}^{l-1} = (\mathbf{W}^l)^\top \big(\partial\mathrm{loss}/\partial\mathbf{h}^{l} \odot \mathbf{f}'(\mathbf{z}^l)\big)$.
#
# **Write `backward_prop`**: return `dldhs`, a list of $L + 1$ columns with
# `dldhs[l]` $= \partial\,\mathrm{loss}/\partial \mathbf{h}^l$ (`dldhs[0]` is the derivative for the
# input). Two traps from the lecture's code: a loop over `i` must **add up** the contributions of
# every unit $i$ (assigning `=` keeps only the last one), and the prediction must come from your
# arguments, $\hat y = $ `f(zs[L])[0]`, never from a variable `hs` left over in the notebook.
# Remember that `Ws[l]` holds $\mathbf{W}^{l+1}$ and `zs[l + 1]` its $\mathbf{z}^{l+1}$.

# %% [answer] backward_prop

# %% [test] test_backward_prop_basic
import builtins, numpy, backprop_given as given  # this cell's names: nothing your cells define changes them

# A 3-2-1 network with the stand-in activation double, f(z) = 2z (so f'(z) = 2), where every
# derivative has a closed form, and the stand-in loss half_squares: this test only judges backward_prop.
W1, b1 = numpy.array([[1.0, 2.0, 0.0], [0.0, -1.0, 3.0]]), numpy.array([[0.5], [-0.5]])
W2, b2 = numpy.array([[2.0, -1.0]]), numpy.array([[0.25]])
x, y = numpy.array([[1.0], [0.5], [-1.0]]), numpy.array([[1.0]])
z1 = W1 @ x + b1
z2 = W2 @ (2.0 * z1) + b2
# The answers, computed before backward_prop runs (so that nothing it does to its arguments moves them).
top = 2.0 * z2 - y  # d loss / d yhat
expected = [W1.T @ (W2.T @ (top * 2.0) * 2.0), W2.T @ (top * 2.0), top]
hs = None  # backward_prop must not use a global hs
args = {"loss": given.half_squares, "f": given.double, "Ws": [W1, W2], "bs": [b1, b2],
        "zs": [numpy.zeros_like(x), z1, z2], "y": y}
before = given.before_call(args)
with given.student_code("backward_prop", seconds=2):
    dldhs = backward_prop(*args.values())
given.assert_unchanged("backward_prop", args, before)
assert builtins.len(dldhs) == 3, f"dldhs needs one entry per layer, 3 here, got {builtins.len(dldhs)}"
assert numpy.allclose(dldhs[2], expected[2]), \
    f"dldhs[2] should be d loss / d yhat = f(z2) - y = {expected[2].ravel()}, got {dldhs[2]}"
assert numpy.shape(dldhs[1]) == (2, 1) and numpy.shape(dldhs[0]) == (3, 1), \
    f"dldhs[1] should have shape (2, 1) and dldhs[0] (3, 1), got {numpy.shape(dldhs[1])} and {numpy.shape(dldhs[0])}"
assert numpy.allclose(dldhs[1], expected[1]), "dldhs[1] is wrong: sum over i of dldhs[2][i] * f'(z2[i]) * W2[i, j]"
assert numpy.allclose(dldhs[0], expected[0]), \
    "dldhs[0] is wrong: sum over i of dldhs[1][i] * f'(z1[i]) * W1[i, j] (add up every i)"
builtins.print("backward_prop passes the visible tests")

# %% [test] test_backward_prop_hidden
# Hidden tests of backward_prop run here when your notebook is graded.

# %% [markdown]
# ## 5. The gradients of the parameters
#
# Within layer $l$, $h^l_i = f(z^l_i)$ and $z^l_i = \sum_j w^l_{ij} h^{l-1}_j + b^l_i$, so
#
# $$\frac{\partial h^l_i}{\partial w^l_{ij}} = f'(z^l_i)\, h^{l-1}_j, \qquad
#   \frac{\partial h^l_i}{\partial b^l_i} = f'(z^l_i),$$
#
# and with back-propagation's $\partial\,\mathrm{loss}/\partial h^l_i$,
#
# $$\frac{\partial\,\mathrm{loss}}{\partial w^l_{ij}} = \frac{\partial\,\mathrm{loss}}{\partial h^l_i}\, f'(z^l_i)\, h^{l-1}_j,
#   \qquad
#   \frac{\partial\,\mathrm{loss}}{\partial b^l_i} = \frac{\partial\,\mathrm{loss}}{\partial h^l_i}\, f'(z^l_i).$$
#
# The gradient for $\mathbf{W}^l$ is therefore an outer product of a column of layer $l$ and the
# row $(\mathbf{h}^{l-1})^\top$. The gradient of the total loss $E$ is the sum of these over samples.
#
# **Write `compute_gradients`**: return `dWs` and `dbs`, lists of $L$ arrays shaped exactly like
# `Ws` and `bs`. With the code's indices, `dWs[l]` and `dbs[l]` use `dldhs[l + 1]`, `zs[l + 1]` and
# `hs[l]`.

# %% [answer] compute_gradients

# %% [test] test_compute_gradients_basic
import builtins, numpy, backprop_given as given  # this cell's names: nothing your cells define changes them

# The 3-2-1 network of test_backward_prop_basic with the stand-in activation double, and a made-up
# dldhs, where the gradients have a closed form: this test only judges compute_gradients.
W1, b1 = numpy.array([[1.0, 2.0, 0.0], [0.0, -1.0, 3.0]]), numpy.array([[0.5], [-0.5]])
W2, b2 = numpy.array([[2.0, -1.0]]), numpy.array([[0.25]])
x = numpy.array([[1.0], [0.5], [-1.0]])
z1 = W1 @ x + b1
h1 = 2.0 * z1
z2 = W2 @ h1 + b2
# The answers, computed before compute_gradients runs (so that nothing it does to its arguments moves them).
expected_dWs = [numpy.array([[1.0], [-2.0]]) * x.T, 4.0 * h1.T]
expected_dbs = [numpy.array([[1.0], [-2.0]]), numpy.array([[4.0]])]
args = {"dldhs": [numpy.zeros((3, 1)), numpy.array([[0.5], [-1.0]]), numpy.array([[2.0]])], "f": given.double,
        "zs": [numpy.zeros_like(x), z1, z2], "hs": [x, h1, 2.0 * z2]}
before = given.before_call(args)
with given.student_code("compute_gradients", seconds=2):
    dWs, dbs = compute_gradients(*args.values())
given.assert_unchanged("compute_gradients", args, before)
assert builtins.len(dWs) == 2 and builtins.len(dbs) == 2, \
    f"dWs and dbs need one entry per layer, 2 here; got {builtins.len(dWs)} and {builtins.len(dbs)}"
assert numpy.shape(dWs[0]) == (2, 3) and numpy.shape(dWs[1]) == (1, 2), \
    f"dWs[l] must be shaped like Ws[l], (2, 3) and (1, 2); got {numpy.shape(dWs[0])} and {numpy.shape(dWs[1])}"
assert numpy.shape(dbs[0]) == (2, 1) and numpy.shape(dbs[1]) == (1, 1), \
    f"dbs[l] must be shaped like bs[l], (2, 1) and (1, 1); got {numpy.shape(dbs[0])} and {numpy.shape(dbs[1])}"
assert numpy.allclose(dbs[1], expected_dbs[1]) and numpy.allclose(dbs[0], expected_dbs[0]), \
    "dbs[l] should be dldhs[l + 1] * f'(zs[l + 1])"
assert numpy.allclose(dWs[1], expected_dWs[1]), "dWs[1][0, j] should be dldhs[2][0] * f'(z2[0]) * hs[1][j]"
assert numpy.allclose(dWs[0], expected_dWs[0]), "dWs[0][i, j] should be dldhs[1][i] * f'(z1[i]) * x[j]"
builtins.print("compute_gradients passes the visible tests")

# %% [test] test_compute_gradients_hidden
# Hidden tests of compute_gradients run here when your notebook is graded.

# %% [markdown]
# ## 6. Gradient checking
#
# A gradient can be wrong and training still creep along, so we test it. The derivative of $E$ with
# respect to one parameter $\theta$ is approximately the **centred finite difference**
#
# $$\frac{\partial E}{\partial \theta} \approx \frac{E(\theta + \epsilon/2) - E(\theta - \epsilon/2)}{\epsilon},$$
#
# whose error shrinks like $\epsilon^2$ (a one-sided difference only shrinks like $\epsilon$). In
# float64 with $\epsilon$ = <<spec: gradcheck_eps>> the two agree to about $10^{-9}$ relative error
# $\|a - n\| / (\|a\| + \|n\|)$ when the back-propagated gradient $a$ is right; a mistake gives
# $10^{-2}$ or more. We accept below <<spec: gradcheck_tol>>. The helpers below perturb each weight in turn,
# and report one relative error per layer of parameters: $\mathbf{W}^l$ and $\mathbf{b}^l$ together,
# named `W^l, b^l (Ws[l-1], bs[l-1])`. When a layer disagrees, they say what to look at.
#
# The finite differences are taken of `network_loss`, a forward pass and squared loss given here, not
# of your `forward_prop` and `loss`: what your back-propagated gradients are compared with does not
# depend on your code (your `forward_prop` and `loss` have their own tests above). The hidden gradient
# check compares your gradients with the exact gradient of the same loss, which these differences
# approximate to about $10^{-9}$.

# %% [given] helpers_gradient_check
import backprop_given as given  # the given code's own module (see the first cell)


# <<helper: network_loss>>


# <<helper: numerical_gradients>>


# <<helper: relative_error>>


# <<helper: backprop_gradients>>


# <<helper: finite_difference_gradients>>


# <<helper: layer_errors>>


# <<helper: gradient_check>>


# <<helper: gradient_diagnosis>>

# %% [code]
rng = np.random.default_rng(0)
with student_code("the gradient check", seconds=5):
    for sizes in [(2, 2, 1), (3, 4, 2), (2, 5, 3, 2)]:
        Ws, bs = random_network(sizes, rng)
        x, y = rng.standard_normal((sizes[0], 1)), rng.random((sizes[-1], 1))
        errors = gradient_check(x, y, Ws, bs, sigmoid, loss, forward_prop, backward_prop, compute_gradients)
        print(f"network {sizes}:\n  " + "\n  ".join(gradient_diagnosis(errors)))

# %% [test] test_gradient_check
import builtins, numpy, backprop_given as given  # this cell's names: nothing your cells define changes them
rng = numpy.random.default_rng(3)
checked = {}
with given.student_code("the gradient check", seconds=3):
    for sizes, name, f in [((2, 2, 1), "sigmoid", sigmoid), ((3, 4, 2), "tanh", given.tanh),
                           ((4, 3, 2, 2), "sigmoid", sigmoid)]:
        Ws, bs = given.random_network(sizes, rng)
        x, y = rng.standard_normal((sizes[0], 1)), rng.random((sizes[-1], 1))
        checked[sizes, name] = given.gradient_check(x, y, Ws, bs, f, loss, forward_prop, backward_prop,
                                                    compute_gradients)
for (sizes, name), errors in checked.items():
    # `e <= 1e-6` is False for nan, so a nan error fails too.
    assert builtins.len(errors) == builtins.len(sizes) - 1 and builtins.all(e <= 1e-6 for e in errors), \
        (f"network {sizes} ({name}): your gradients disagree with finite differences\n  "
         + "\n  ".join(given.gradient_diagnosis(errors)))
builtins.print("your gradients agree with finite differences")

# %% [markdown]
# ## 7. Training on noisy XOR
#
# Gradient descent repeats $\mathbf{W}^l \leftarrow \mathbf{W}^l - \eta\, \partial E / \partial \mathbf{W}^l$
# (and the same for $\mathbf{b}^l$), where $\partial E / \partial \mathbf{W}^l$ sums the per-sample
# gradients over the data set. The data are XOR's four corners with Gaussian noise (standard
# deviation 0.1), labelled by the corner they came from. Training starts from random weights.
#
# Because $\partial E / \partial \mathbf{W}^l$ is a *sum* over samples, the step it takes grows with
# the data set: with the 16 samples below, $\eta = 0.75$ makes the loss fall smoothly; with 100
# samples the same $\eta$ overshoots, and the loss swings up and down before it settles (try it).
# Dividing $\eta$ by the number of samples (a *mean* loss) removes that dependence.
#
# `train` takes each step with your gradients (your `forward_prop`, `backward_prop` and
# `compute_gradients`, sample by sample) and records each step's loss $E$ with the given
# `network_loss`, so the curve shows where your gradients lead, whatever your `loss` reports.

# %% [given] helpers_training
import backprop_given as given  # the given code's own module (see the first cell)


# <<helper: noisy_xor>>


# <<helper: compute_loss>>


# <<helper: train>>


# <<helper: training_diagnosis>>

# %% [code]
rng = np.random.default_rng(1)
x_train, y_train = noisy_xor(16, rng)
Ws0, bs0 = random_network([2, 2, 1], rng, scale=1.0)
with student_code("training", seconds=5):
    Ws_fit, bs_fit, Es = train(x_train, y_train, Ws0, bs0, 0.75, 150, sigmoid, loss,
                               forward_prop, backward_prop, compute_gradients)
    outputs = {(x1, x2): forward_prop(np.array([[x1], [x2]]), sigmoid, Ws_fit, bs_fit)[0][-1].item()
               for x1 in [0.0, 1.0] for x2 in [0.0, 1.0]}
plt.plot(Es)
plt.xlabel("epoch")
plt.ylabel("total loss E")
plt.title("Training on noisy XOR")
plt.show()
for (x1, x2), output in outputs.items():
    print("Input:", [x1, x2], "Output:", round(output, 4))

# %% [test] test_training
import builtins, numpy, backprop_given as given  # this cell's names: nothing your cells define changes them
rng = numpy.random.default_rng(7)
x_small, y_small = given.noisy_xor(8, rng)
Ws_small, bs_small = given.random_network([2, 3, 1], rng)
with given.student_code("the training run", seconds=3):
    _, _, Es_small = given.train(x_small, y_small, Ws_small, bs_small, 0.5, 10, sigmoid, loss,
                                 forward_prop, backward_prop, compute_gradients)
assert numpy.all(numpy.isfinite(Es_small)), given.training_diagnosis(Es_small)
assert Es_small[-1] < Es_small[0], given.training_diagnosis(Es_small)
builtins.print("training decreases the loss")

# %% [markdown]
# ## 8. Before you submit
#
# 1. *Kernel → Restart & Run All*: every visible test above must print that it passes.
# 2. Run the self-check below. It checks your five functions together, as the graders will: your
#    gradients against finite differences on three random networks, and a short training run. It
#    prints the same diagnoses your feedback page will show (which layer's gradient disagrees, by
#    how much, and what to look at). It gives your functions 5 seconds in all and stops at the
#    first function that fails, naming it. The hidden tests use other networks, so passing here
#    is necessary, not sufficient.
# 3. Save, and submit the notebook under its own name, `backprop.ipynb`.

# %% [given] helpers_self_check
import backprop_given as given  # the given code's own module (see the first cell)


# <<helper: self_check>>

# %% [code]
self_check(sigmoid, loss, forward_prop, backward_prop, compute_gradients)
