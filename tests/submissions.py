"""Student answers for testing the hidden checks: wrong functions (mutants) and correct styles.

A mutant is ONE wrong function, as a student would type it in that function's answer cell;
the checks must fail at least one of its own `test_<function>*` cells and no cell of another
function. A style is a complete, correct set of the five answer cells, written differently
from the reference; the checks must pass it everywhere.

Conventions (solutions/backprop.py): column vectors, Ws[l] of shape (n_{l+1}, n_l), bs[l] of
shape (n_{l+1}, 1), activations and the loss return (value, derivative), hs / zs / dldhs have
L + 1 entries, zs[0] is a placeholder that is never judged, and backward_prop's prediction is
f(zs[L])[0].
"""

import textwrap
from dataclasses import dataclass

from tests import attacks
from tests.attacks import edited


@dataclass(frozen=True)
class Mutant:
    """One wrong answer cell: `source` defines `function` (with the homework's signature)."""

    name: str
    function: str
    source: str
    why: str


@dataclass(frozen=True)
class Style:
    """A correct solution: function name -> the source of its answer cell, for all five."""

    name: str
    answers: dict[str, str]


def _code(text: str) -> str:
    return textwrap.dedent(text).strip() + "\n"


# --------------------------------------------------------------------------------------------
# Mutants
# --------------------------------------------------------------------------------------------

LOSS_MUTANTS = (
    Mutant("loss_without_half", "loss", _code("""
        def loss(yhat, y):
            l = (yhat - y) ** 2
            g = yhat - y
            return l, g
        """), "Drops the 0.5 of the squared loss but keeps the derivative yhat - y."),
    Mutant("loss_gradient_doubled", "loss", _code("""
        def loss(yhat, y):
            l = 0.5 * (yhat - y) ** 2
            g = 2 * (yhat - y)
            return l, g
        """), "Differentiates (yhat - y)**2 instead of the 0.5 * (yhat - y)**2 it returns."),
    Mutant("loss_gradient_wrong_sign", "loss", _code("""
        def loss(yhat, y):
            return 0.5 * (yhat - y) ** 2, y - yhat
        """), "Returns d l / d y instead of d l / d yhat: the derivative has the wrong sign."),
    Mutant("loss_mean_over_outputs", "loss", _code("""
        import numpy as np

        def loss(yhat, y):
            l = np.mean(0.5 * (yhat - y) ** 2)
            return l, yhat - y
        """), "Averages the loss over several outputs instead of summing it (same for one output)."),
    Mutant("loss_gradient_summed", "loss", _code("""
        import numpy as np

        def loss(yhat, y):
            diff = yhat - y
            return np.sum(0.5 * diff ** 2), np.sum(diff)
        """), "Sums the derivative to a scalar, so g is not shaped like yhat."),
    Mutant("loss_subtracts_in_place", "loss", _code("""
        def loss(yhat, y):
            diff = yhat        # not a copy
            diff -= y
            return 0.5 * diff ** 2, diff
        """), "Right values, but `diff -= y` overwrites the caller's yhat array."),
    Mutant("loss_caches_first_answer", "loss", _code("""
        _loss_memo = []

        def loss(yhat, y):
            if not _loss_memo:   # "the loss is always the same formula, compute it once"
                diff = yhat - y
                _loss_memo.append((0.5 * diff ** 2, diff))
            return _loss_memo[0]
        """), "Keeps its first answer in a global and returns it for every later call."),
)

SIGMOID_MUTANTS = (
    Mutant("sigmoid_derivative_is_h", "sigmoid", _code("""
        import numpy as np

        def sigmoid(z):
            h = 1.0 / (1.0 + np.exp(-z))
            return h, h
        """), "Returns h itself as the derivative instead of h * (1 - h)."),
    Mutant("sigmoid_exp_plus_z", "sigmoid", _code("""
        import numpy as np

        def sigmoid(z):
            h = 1.0 / (1.0 + np.exp(z))
            return h, h * (1.0 - h)
        """), "Uses exp(z) instead of exp(-z), which mirrors the curve."),
    Mutant("sigmoid_derivative_of_z", "sigmoid", _code("""
        import numpy as np

        def sigmoid(z):
            h = 1.0 / (1.0 + np.exp(-z))
            g = z * (1.0 - z)
            return h, g
        """), "Writes the derivative in terms of z instead of h: z * (1 - z)."),
    Mutant("sigmoid_math_exp", "sigmoid", _code("""
        import math

        def sigmoid(z):
            h = 1.0 / (1.0 + math.exp(-z))
            return h, h * (1.0 - h)
        """), "Uses math.exp, which only takes scalars, so vectors and matrices raise TypeError."),
    Mutant("sigmoid_returns_only_h", "sigmoid", _code("""
        import numpy as np

        def sigmoid(z):
            return 1.0 / (1.0 + np.exp(-z))
        """), "Forgets the (value, derivative) convention and returns h alone."),
    Mutant("sigmoid_is_tanh", "sigmoid", _code("""
        import numpy as np

        def sigmoid(z):
            h = np.tanh(z)
            return h, 1.0 - h ** 2
        """), "Implements the wrong squashing function (tanh, with its own derivative)."),
    Mutant("sigmoid_negates_in_place", "sigmoid", _code("""
        import numpy as np

        def sigmoid(z):
            z *= -1
            h = 1.0 / (1.0 + np.exp(z))
            return h, h * (1.0 - h)
        """), "Right values, but `z *= -1` flips the sign of the caller's array."),
    Mutant("sigmoid_exp_over_one_plus_exp", "sigmoid", _code("""
        import numpy as np

        def sigmoid(z):
            e = np.exp(z)
            h = e / (1.0 + e)
            return h, h * (1.0 - h)
        """), "e^z / (1 + e^z): right until exp overflows, then inf / inf = nan for z > 709."),
    Mutant("sigmoid_derivative_nan_far_left", "sigmoid", _code("""
        import numpy as np

        def sigmoid(z):
            e = np.exp(-z)
            h = 1.0 / (1.0 + e)
            return h, e / (1.0 + e) ** 2
        """), "The derivative as e / (1 + e)^2 with e = exp(-z): nan for z < -709, where e is inf."),
)

FORWARD_PROP_MUTANTS = (
    Mutant("forward_prop_without_bias", "forward_prop", _code("""
        import numpy as np

        def forward_prop(x, f, Ws, bs):
            hs, zs = [x], [np.zeros_like(x, dtype=float)]
            for W in Ws:
                z = W @ hs[-1]
                zs.append(z)
                hs.append(f(z)[0])
            return hs, zs
        """), "Leaves out the bias: z = W h instead of W h + b."),
    Mutant("forward_prop_stores_z_in_hs", "forward_prop", _code("""
        import numpy as np

        def forward_prop(x, f, Ws, bs):
            hs, zs = [x], [np.zeros_like(x, dtype=float)]
            for W, b in zip(Ws, bs):
                z = W @ hs[-1] + b
                h, _ = f(z)
                zs.append(z)
                hs.append(z)
            return hs, zs
        """), "Appends z to hs instead of h (copy-paste slip), so later layers are fed z too."),
    Mutant("forward_prop_no_f_on_last_layer", "forward_prop", _code("""
        import numpy as np

        def forward_prop(x, f, Ws, bs):
            hs, zs = [x], [np.zeros_like(x, dtype=float)]
            L = len(Ws)
            for l in range(L):
                z = Ws[l] @ hs[-1] + bs[l]
                h = f(z)[0] if l < L - 1 else z   # "the output layer is linear"
                zs.append(z)
                hs.append(h)
            return hs, zs
        """), "Treats the output layer as linear: hs[L] = zs[L] instead of f(zs[L])."),
    Mutant("forward_prop_global_sigmoid", "forward_prop", _code("""
        import numpy as np

        def forward_prop(x, f, Ws, bs):
            hs, zs = [x], [np.zeros_like(x, dtype=float)]
            for W, b in zip(Ws, bs):
                z = W @ hs[-1] + b
                h, _ = sigmoid(z)
                zs.append(z)
                hs.append(h)
            return hs, zs
        """), "Calls the notebook's global sigmoid instead of the activation f it is given."),
    Mutant("forward_prop_always_feeds_x", "forward_prop", _code("""
        import numpy as np

        def forward_prop(x, f, Ws, bs):
            hs, zs = [x], [np.zeros_like(x, dtype=float)]
            for W, b in zip(Ws, bs):
                z = W @ x + b
                h, _ = f(z)
                zs.append(z)
                hs.append(h)
            return hs, zs
        """), "Feeds the input x to every layer instead of the previous layer's h."),
    Mutant("forward_prop_without_input_in_hs", "forward_prop", _code("""
        def forward_prop(x, f, Ws, bs):
            hs, zs = [], []
            h = x
            for W, b in zip(Ws, bs):
                z = W @ h + b
                h, _ = f(z)
                zs.append(z)
                hs.append(h)
            return hs, zs
        """), "Stores only the L computed layers: hs lacks hs[0] = x (and zs its placeholder)."),
    Mutant("forward_prop_transposed_W", "forward_prop", _code("""
        import numpy as np

        def forward_prop(x, f, Ws, bs):
            hs, zs = [x], [np.zeros_like(x, dtype=float)]
            for W, b in zip(Ws, bs):
                z = W.T @ hs[-1] + b
                zs.append(z)
                hs.append(f(z)[0])
            return hs, zs
        """), "Multiplies by W transposed, mixing up the (n_{l+1}, n_l) convention."),
    Mutant("forward_prop_returns_zs_hs", "forward_prop", _code("import numpy as np\n" + edited(
        attacks.FORWARD_PROP, "return hs, zs", "return zs, hs")), "Returns (zs, hs) instead of (hs, zs)."),
    Mutant("forward_prop_pops_layers", "forward_prop", _code("""
        import numpy as np

        def forward_prop(x, f, Ws, bs):
            hs, zs = [x], [np.zeros_like(x, dtype=float)]
            while Ws:
                W, b = Ws.pop(0), bs.pop(0)
                z = W @ hs[-1] + b
                zs.append(z)
                hs.append(f(z)[0])
            return hs, zs
        """), "Right values, but pops the layers off the caller's Ws and bs, leaving them empty."),
    Mutant("forward_prop_cached_by_depth", "forward_prop", _code("""
        import numpy as np

        _forward_memo = {}

        def forward_prop(x, f, Ws, bs):
            key = len(Ws)   # "same network, same answer"
            if key not in _forward_memo:
                hs, zs = [x], [np.zeros_like(x, dtype=float)]
                for W, b in zip(Ws, bs):
                    z = W @ hs[-1] + b
                    zs.append(z)
                    hs.append(f(z)[0])
                _forward_memo[key] = (hs, zs)
            return _forward_memo[key]
        """), "Caches its result in a global keyed by depth, so a new input or network gets a stale answer."),
)

_LECTURE_BACKWARD_PROP = _code("""
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
    """)

BACKWARD_PROP_MUTANTS = (
    Mutant("backward_prop_lecture_verbatim", "backward_prop", _LECTURE_BACKWARD_PROP,
           "The lecture's code as printed: prediction from the global hs and an overwritten sum."),
    Mutant("backward_prop_overwrites_sum", "backward_prop", _LECTURE_BACKWARD_PROP.replace(
        "_,dldh = loss(hs[-1],y)\n    L = len(Ws)", "L = len(Ws)\n    _,dldh = loss(f(zs[L])[0],y)"),
        "The lecture's triple loop with the prediction fixed, but `dldhs[l][j] = ...` overwrites the sum."),
    Mutant("backward_prop_global_hs", "backward_prop", _code("""
        def backward_prop(loss, f, Ws, bs, zs, y):
            L = len(Ws)
            _, dldh = loss(hs[-1], y)
            dldhs = [None] * (L + 1)
            dldhs[L] = dldh
            for l in reversed(range(L)):
                dldhs[l] = Ws[l].T @ (dldhs[l + 1] * f(zs[l + 1])[1])
            return dldhs
        """), "Correct recursion, but takes the prediction from the notebook's global hs."),
    Mutant("backward_prop_without_fprime", "backward_prop", _code("""
        def backward_prop(loss, f, Ws, bs, zs, y):
            L = len(Ws)
            dldhs = [None] * (L + 1)
            dldhs[L] = loss(f(zs[L])[0], y)[1]
            for l in reversed(range(L)):
                dldhs[l] = Ws[l].T @ dldhs[l + 1]
            return dldhs
        """), "Forgets the factor f'(z^{l+1}) when stepping down a layer."),
    Mutant("backward_prop_W_not_transposed", "backward_prop", _code("""
        def backward_prop(loss, f, Ws, bs, zs, y):
            L = len(Ws)
            dldhs = [None] * (L + 1)
            dldhs[L] = loss(f(zs[L])[0], y)[1]
            for l in reversed(range(L)):
                dldhs[l] = Ws[l] @ (dldhs[l + 1] * f(zs[l + 1])[1])
            return dldhs
        """), "Multiplies by W instead of W transposed when going down."),
    Mutant("backward_prop_zs_l", "backward_prop", _code("""
        def backward_prop(loss, f, Ws, bs, zs, y):
            L = len(Ws)
            dldhs = [None] * (L + 1)
            dldhs[L] = loss(f(zs[L])[0], y)[1]
            for l in reversed(range(L)):
                dldhs[l] = Ws[l].T @ (dldhs[l + 1] * f(zs[l])[1])
            return dldhs
        """), "Evaluates f' at zs[l] instead of zs[l + 1] (off by one layer)."),
    Mutant("backward_prop_prediction_without_f", "backward_prop", _code("""
        def backward_prop(loss, f, Ws, bs, zs, y):
            L = len(Ws)
            dldhs = [None] * (L + 1)
            dldhs[L] = loss(zs[L], y)[1]
            for l in reversed(range(L)):
                dldhs[l] = Ws[l].T @ (dldhs[l + 1] * f(zs[l + 1])[1])
            return dldhs
        """), "Uses zs[L] itself as the prediction, without applying f."),
    Mutant("backward_prop_single_output", "backward_prop", _code("""
        def backward_prop(loss, f, Ws, bs, zs, y):
            L = len(Ws)
            yhat = f(zs[L])[0][0][0]   # the lecture's training loop does hs[-1][0][0]
            dldhs = [None] * (L + 1)
            dldhs[L] = loss(yhat, y)[1]
            for l in reversed(range(L)):
                dldhs[l] = Ws[l].T @ (dldhs[l + 1] * f(zs[l + 1])[1])
            return dldhs
        """), "Takes the first output as the prediction, which is only right for one output unit."),
    Mutant("backward_prop_skips_input_layer", "backward_prop", _code("""
        def backward_prop(loss, f, Ws, bs, zs, y):
            L = len(Ws)
            dldhs = [None] * (L + 1)
            dldhs[L] = loss(f(zs[L])[0], y)[1]
            for l in reversed(range(1, L)):   # "no weights below the input"
                dldhs[l] = Ws[l].T @ (dldhs[l + 1] * f(zs[l + 1])[1])
            return dldhs
        """), "Stops one layer early, so dldhs[0] (the gradient for the input x) stays None."),
    Mutant("backward_prop_reverses_Ws_in_place", "backward_prop", _code("""
        def backward_prop(loss, f, Ws, bs, zs, y):
            L = len(Ws)
            dldhs = [loss(f(zs[L])[0], y)[1]]
            Ws.reverse()   # walk the layers from the top
            for k, W in enumerate(Ws):
                l = L - 1 - k
                dldhs.append(W.T @ (dldhs[-1] * f(zs[l + 1])[1]))
            dldhs.reverse()
            return dldhs
        """), "Right values, but reverses the caller's list Ws in place."),
)

COMPUTE_GRADIENTS_MUTANTS = (
    Mutant("compute_gradients_lecture_fragment", "compute_gradients", _code("""
        def compute_gradients(dldhs, f, zs, hs):
            dbs[l] = dldhs[l+1][i]*g
            return dWs,dbs
        """), "The lecture's printed fragment pasted into the def: l, i, g, dWs and dbs are undefined."),
    Mutant("compute_gradients_without_fprime", "compute_gradients", _code("""
        def compute_gradients(dldhs, f, zs, hs):
            dWs, dbs = [], []
            for l in range(len(zs) - 1):
                dWs.append(dldhs[l + 1] @ hs[l].T)
                dbs.append(dldhs[l + 1])
            return dWs, dbs
        """), "Forgets the factor f'(z^{l+1}) in both gradients."),
    Mutant("compute_gradients_transposed_dW", "compute_gradients", _code("""
        def compute_gradients(dldhs, f, zs, hs):
            dWs, dbs = [], []
            for l in range(len(zs) - 1):
                delta = dldhs[l + 1] * f(zs[l + 1])[1]
                dWs.append(hs[l] @ delta.T)
                dbs.append(delta)
            return dWs, dbs
        """), "Builds dW as h delta^T, the transpose of W's shape."),
    Mutant("compute_gradients_hs_next", "compute_gradients", _code("""
        def compute_gradients(dldhs, f, zs, hs):
            dWs, dbs = [], []
            for l in range(len(zs) - 1):
                delta = dldhs[l + 1] * f(zs[l + 1])[1]
                dWs.append(delta @ hs[l + 1].T)
                dbs.append(delta)
            return dWs, dbs
        """), "Uses hs[l + 1], the layer's own output, instead of its input hs[l]."),
    Mutant("compute_gradients_zs_l", "compute_gradients", _code("""
        def compute_gradients(dldhs, f, zs, hs):
            dWs, dbs = [], []
            for l in range(len(zs) - 1):
                delta = dldhs[l + 1] * f(zs[l])[1]
                dWs.append(delta @ hs[l].T)
                dbs.append(delta)
            return dWs, dbs
        """), "Evaluates f' at zs[l] instead of zs[l + 1]."),
    Mutant("compute_gradients_dbs_without_fprime", "compute_gradients", _code("""
        def compute_gradients(dldhs, f, zs, hs):
            dWs, dbs = [], []
            for l in range(len(zs) - 1):
                delta = dldhs[l + 1] * f(zs[l + 1])[1]
                dWs.append(delta @ hs[l].T)
                dbs.append(dldhs[l + 1])
            return dWs, dbs
        """), "Gets dW right but forgets f' in db."),
    Mutant("compute_gradients_flat_dbs", "compute_gradients", _code("""
        def compute_gradients(dldhs, f, zs, hs):
            dWs, dbs = [], []
            for l in range(len(zs) - 1):
                delta = dldhs[l + 1] * f(zs[l + 1])[1]
                dWs.append(delta @ hs[l].T)
                dbs.append(delta.ravel())
            return dWs, dbs
        """), "Returns each db as a 1-D array of shape (n,) instead of a column (n, 1)."),
    Mutant("compute_gradients_scales_dldhs_in_place", "compute_gradients", _code("""
        def compute_gradients(dldhs, f, zs, hs):
            dWs, dbs = [], []
            for l in range(len(zs) - 1):
                delta = dldhs[l + 1]     # not a copy
                delta *= f(zs[l + 1])[1]
                dWs.append(delta @ hs[l].T)
                dbs.append(delta)
            return dWs, dbs
        """), "Right values, but `delta *= f'` scales the caller's dldhs in place."),
    Mutant("compute_gradients_top_down_order", "compute_gradients", _code("""
        def compute_gradients(dldhs, f, zs, hs):
            dWs, dbs = [], []
            for l in reversed(range(len(zs) - 1)):   # same direction as backward_prop
                delta = dldhs[l + 1] * f(zs[l + 1])[1]
                dWs.append(delta @ hs[l].T)
                dbs.append(delta)
            return dWs, dbs
        """), "Walks the layers top-down and appends, so the lists come out in reverse order."),
)

# A right backward_prop (from tests/attacks.py), for the mutants one edit away from it, and the
# line of its loop that such mutants replace.
BACKWARD_PROP = _code(attacks.BACKWARD_PROP)
BACKWARD_STEP = "        dldhs[l] = Ws[l].T @ (dldhs[l + 1] * f(zs[l + 1])[1])\n"

# Wrong only for one input form the docstrings promise (spec.INPUT_FORMS): right on columns.
FORM_MUTANTS = (
    Mutant("backward_prop_reshapes_y", "backward_prop", edited(
        BACKWARD_PROP, "    L = len(Ws)\n", "    L = len(Ws)\n    y = y.reshape(-1, 1)\n"),
        "Reshapes the target with y.reshape(-1, 1): fails when y is a float, as the docstring allows."),
    Mutant("backward_prop_reshapes_array_y", "backward_prop", edited(edited(
        BACKWARD_PROP, "    L = len(Ws)\n", "    L = len(Ws)\n    yhat = f(zs[L])[0]\n"
                       "    if not isinstance(y, float):\n        y = np.reshape(y, yhat.shape)\n"),
        "loss(f(zs[L])[0], y)", "loss(yhat, y)"),
        "Reshapes an array target to the prediction's shape: a 0-d y cannot fill several outputs."),
    Mutant("sigmoid_loops_over_rows", "sigmoid", _code("""
        def sigmoid(z):
            if isinstance(z, float):
                h = 1.0 / (1.0 + np.exp(-z))
                return h, h * (1.0 - h)
            h = np.empty(np.shape(z))
            for i in range(z.shape[0]):
                h[i] = 1.0 / (1.0 + np.exp(-z[i]))
            return h, h * (1.0 - h)
        """), "Treats floats apart and loops over the rows of arrays: a 0-d array has no rows."),
    Mutant("loss_loops_over_outputs", "loss", _code("""
        def loss(yhat, y):
            if np.isscalar(yhat):
                d = yhat - y
                return 0.5 * d * d, d
            diff = np.empty(np.shape(yhat))
            for i in range(yhat.shape[0]):
                diff[i] = yhat[i] - np.broadcast_to(y, yhat.shape)[i]
            return 0.5 * diff**2, diff
        """), "Treats Python floats apart and loops over the outputs of arrays: a 0-d array has none."),
)

MUTANTS = (LOSS_MUTANTS + SIGMOID_MUTANTS + FORWARD_PROP_MUTANTS + BACKWARD_PROP_MUTANTS
           + COMPUTE_GRADIENTS_MUTANTS + FORM_MUTANTS)


# --------------------------------------------------------------------------------------------
# Correct styles
# --------------------------------------------------------------------------------------------

# The lecture's code with its bugs fixed: explicit loops over units, the overflowing sigmoid
# formula, a 1-D zs[0] placeholder, `+=` in the backward loop and the prediction from zs[L].
LECTURE_LOOPS = Style("lecture_loops_fixed", {
    "loss": _code("""
        def loss(yhat,y):
            # loss(yhat,y)
            l = 0.5*(yhat - y)**2.0
            # d loss(yhat,y) / d yhat
            g = (yhat - y)
            return l,g
        """),
    "sigmoid": _code("""
        def sigmoid(z):
            # h is a vector of outputs, g the derivative of f at each z
            h = 1.0/(1.0 + np.exp(-z))
            g = h*(1.0 - h)
            return h,g
        """),
    "forward_prop": _code("""
        def forward_prop(x,f,Ws,bs):
            hs = [x]                 # store h^0
            zs = [np.zeros(len(x))]  # store z^0
            h = x                    # current layer is 0
            L = len(Ws)
            for l in range(L):
                Wl = Ws[l]
                bl = bs[l]
                z = np.dot(Wl,h) + bl  # input into layer l
                h,_ = f(z)             # activation for each z
                zs.append(z)
                hs.append(h)
            return hs,zs
        """),
    "backward_prop": _code("""
        def backward_prop(loss,f,Ws,bs,zs,y):
            L = len(Ws)
            yhat,_ = f(zs[L])
            _,dldh = loss(yhat,y)
            dldhs = [[]]*(L+1)
            dldhs[L] = dldh
            for l in reversed(range(L)):
                Wl = Ws[l]
                nl = Wl.shape[0]
                n = Wl.shape[1]
                dldhs[l] = np.zeros((n,1))
                for i in range(nl):
                    _,df = f(zs[l+1][i])
                    m = dldhs[l+1][i]*df
                    for j in range(n):
                        dldhs[l][j] += m*Wl[i,j]
            return dldhs
        """),
    "compute_gradients": _code("""
        def compute_gradients(dldhs,f,zs,hs):
            L = len(zs) - 1
            dWs = [[]]*L
            dbs = [[]]*L
            for l in range(L):
                nl = len(zs[l+1])
                n = len(hs[l])
                dWs[l] = np.zeros((nl,n))
                dbs[l] = np.zeros((nl,1))
                for i in range(nl):
                    _,g = f(zs[l+1][i,0])
                    dbs[l][i,0] = dldhs[l+1][i,0]*g
                    for j in range(n):
                        dWs[l][i,j] = dldhs[l+1][i,0]*g*hs[l][j,0]
            return dWs,dbs
        """),
})

# Preallocated lists and matrix products; the loss summed to a float, sigmoid through tanh,
# zs[0] = x as a placeholder, and every f'(z) computed once up front.
VECTORISED = Style("vectorised_matmul", {
    "loss": _code("""
        import numpy as np

        def loss(yhat, y):
            diff = yhat - y
            return float(np.sum(0.5 * diff ** 2)), diff
        """),
    "sigmoid": _code("""
        import numpy as np

        def sigmoid(z):
            h = 0.5 * (1.0 + np.tanh(0.5 * z))
            return h, h * (1.0 - h)
        """),
    "forward_prop": _code("""
        def forward_prop(x, f, Ws, bs):
            L = len(Ws)
            hs = [None] * (L + 1)
            zs = [None] * (L + 1)
            hs[0] = x
            zs[0] = x   # placeholder: there is no z^0
            for l in range(1, L + 1):
                zs[l] = Ws[l - 1] @ hs[l - 1] + bs[l - 1]
                hs[l], _ = f(zs[l])
            return hs, zs
        """),
    "backward_prop": _code("""
        def backward_prop(loss, f, Ws, bs, zs, y):
            L = len(Ws)
            derivs = [None] + [f(z)[1] for z in zs[1:]]   # f'(z^l), once per layer
            dldhs = [None] * (L + 1)
            dldhs[L] = loss(f(zs[L])[0], y)[1]
            for l in range(L - 1, -1, -1):
                dldhs[l] = Ws[l].T @ (dldhs[l + 1] * derivs[l + 1])
            return dldhs
        """),
    "compute_gradients": _code("""
        def compute_gradients(dldhs, f, zs, hs):
            L = len(zs) - 1
            deltas = [dldhs[l + 1] * f(zs[l + 1])[1] for l in range(L)]
            dWs = [deltas[l] @ hs[l].T for l in range(L)]
            dbs = [deltas[l].copy() for l in range(L)]
            return dWs, dbs
        """),
})

# np.dot and np.outer on flattened vectors, a logaddexp sigmoid, len(hs) for the depth.
DOT_OUTER = Style("dot_outer", {
    "loss": _code("""
        import numpy as np

        def loss(yhat, y):
            d = np.subtract(yhat, y)
            return 0.5 * np.square(d), d
        """),
    "sigmoid": _code("""
        import numpy as np

        def sigmoid(z):
            # 1 / (1 + e^-z) = exp(-log(1 + e^-z)), without overflow
            h = np.exp(-np.logaddexp(0.0, -z))
            return h, h * (1.0 - h)
        """),
    "forward_prop": _code("""
        import numpy as np

        def forward_prop(x, f, Ws, bs):
            hs = [x]
            zs = [np.zeros((len(x), 1))]
            for l in range(len(Ws)):
                z = np.dot(Ws[l], hs[l]) + bs[l]
                zs.append(z)
                hs.append(f(z)[0])
            return hs, zs
        """),
    "backward_prop": _code("""
        import numpy as np

        def backward_prop(loss, f, Ws, bs, zs, y):
            L = len(Ws)
            dldhs = [None] * (L + 1)
            dldhs[L] = loss(f(zs[L])[0], y)[1]
            for l in reversed(range(L)):
                delta = dldhs[l + 1] * f(zs[l + 1])[1]
                dldhs[l] = np.dot(Ws[l].T, delta)
            return dldhs
        """),
    "compute_gradients": _code("""
        import numpy as np

        def compute_gradients(dldhs, f, zs, hs):
            dWs, dbs = [], []
            for l in range(len(hs) - 1):
                delta = (dldhs[l + 1] * f(zs[l + 1])[1]).ravel()
                dWs.append(np.outer(delta, hs[l].ravel()))
                dbs.append(delta.reshape(-1, 1))
            return dWs, dbs
        """),
})

# One einsum per layer, and a sigmoid that picks the stable branch with np.where.
EINSUM = Style("einsum", {
    "loss": _code("""
        def loss(yhat, y):
            err = yhat - y
            return 0.5 * err * err, 1.0 * err
        """),
    "sigmoid": _code("""
        import numpy as np

        def sigmoid(z):
            z = np.asarray(z, dtype=float)
            e = np.exp(-np.abs(z))
            h = np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
            return h, h * (1.0 - h)
        """),
    "forward_prop": _code("""
        import numpy as np

        def forward_prop(x, f, Ws, bs):
            hs, zs = [x], [np.zeros_like(x, dtype=float)]
            for W, b in zip(Ws, bs):
                z = np.einsum("ij,jk->ik", W, hs[-1]) + b
                zs.append(z)
                hs.append(f(z)[0])
            return hs, zs
        """),
    "backward_prop": _code("""
        import numpy as np

        def backward_prop(loss, f, Ws, bs, zs, y):
            L = len(Ws)
            dldhs = [None] * (L + 1)
            dldhs[L] = loss(f(zs[L])[0], y)[1]
            for l in reversed(range(L)):
                delta = dldhs[l + 1] * f(zs[l + 1])[1]
                dldhs[l] = np.einsum("ij,ik->jk", Ws[l], delta)
            return dldhs
        """),
    "compute_gradients": _code("""
        import numpy as np

        def compute_gradients(dldhs, f, zs, hs):
            dWs, dbs = [], []
            for l in range(len(zs) - 1):
                delta = dldhs[l + 1] * f(zs[l + 1])[1]
                dWs.append(np.einsum("ik,jk->ij", delta, hs[l]))
                dbs.append(delta)
            return dWs, dbs
        """),
})

# Recursion over the layers, in forward_prop, backward_prop and compute_gradients.
RECURSIVE = Style("recursive", {
    "loss": _code("""
        def loss(yhat, y):
            return 0.5 * (yhat - y) ** 2, yhat - y
        """),
    "sigmoid": _code("""
        import numpy as np

        def sigmoid(z):
            h = np.reciprocal(1.0 + np.exp(-z))
            return h, h * (1 - h)
        """),
    "forward_prop": _code("""
        import numpy as np

        def forward_prop(x, f, Ws, bs):
            if len(Ws) == 0:
                return [x], [np.zeros_like(x, dtype=float)]
            hs, zs = forward_prop(x, f, Ws[:-1], bs[:-1])
            z = Ws[-1] @ hs[-1] + bs[-1]
            return hs + [f(z)[0]], zs + [z]
        """),
    "backward_prop": _code("""
        def backward_prop(loss, f, Ws, bs, zs, y):
            L = len(Ws)

            def down(l):
                # [dldhs[l], ..., dldhs[L]]
                if l == L:
                    return [loss(f(zs[L])[0], y)[1]]
                above = down(l + 1)
                return [Ws[l].T @ (above[0] * f(zs[l + 1])[1])] + above

            return down(0)
        """),
    "compute_gradients": _code("""
        def compute_gradients(dldhs, f, zs, hs):
            if len(zs) < 2:
                return [], []
            dWs, dbs = compute_gradients(dldhs[:-1], f, zs[:-1], hs[:-1])
            delta = dldhs[-1] * f(zs[-1])[1]
            return dWs + [delta @ hs[-2].T], dbs + [delta]
        """),
})

# Comprehensions, functools.reduce and tuples everywhere; dldhs built with insert(0, ...).
TUPLES = Style("comprehensions_tuples", {
    "loss": _code("""
        import numpy as np

        def loss(yhat, y):
            return 0.5 * np.power(yhat - y, 2), np.subtract(yhat, y)
        """),
    "sigmoid": _code("""
        import numpy as np

        def sigmoid(z):
            h = 1 / (1 + np.exp(-z))
            return h, h - h ** 2
        """),
    "forward_prop": _code("""
        import functools
        import numpy as np

        def forward_prop(x, f, Ws, bs):
            def step(state, layer):
                hs, zs = state
                W, b = layer
                z = W @ hs[-1] + b
                return hs + (f(z)[0],), zs + (z,)

            return functools.reduce(step, zip(Ws, bs), ((x,), (np.zeros_like(x, dtype=float),)))
        """),
    "backward_prop": _code("""
        def backward_prop(loss, f, Ws, bs, zs, y):
            L = len(Ws)
            dldhs = [loss(f(zs[L])[0], y)[1]]
            for l in range(L - 1, -1, -1):
                dldhs.insert(0, Ws[l].T @ (dldhs[0] * f(zs[l + 1])[1]))
            return tuple(dldhs)
        """),
    "compute_gradients": _code("""
        def compute_gradients(dldhs, f, zs, hs):
            deltas = tuple(d * f(z)[1] for d, z in zip(dldhs[1:], zs[1:]))
            return tuple(d @ h.T for d, h in zip(deltas, hs)), deltas
        """),
})

# Debug prints everywhere, helper functions defined in the answer cells, f(z) evaluated once
# per layer (value and derivative kept together), dldhs prepended with insert(0, ...).
DEBUG_HELPERS = Style("debug_prints_helpers", {
    "loss": _code("""
        def loss(yhat, y):
            print("loss: yhat =", yhat, "y =", y)
            diff = yhat - y
            l = 0.5 * diff ** 2
            print("loss: l =", l, "g =", diff)
            return l, diff
        """),
    "sigmoid": _code("""
        import numpy as np

        def _logistic(z):
            with np.errstate(over="ignore"):
                return 1.0 / (1.0 + np.exp(-z))

        def sigmoid(z):
            h = _logistic(z)
            print("sigmoid of shape", np.shape(z), "->", h)
            return h, h * (1.0 - h)
        """),
    "forward_prop": _code("""
        def _layer(W, b, h_below, f):
            z = W @ h_below + b
            h, dh = f(z)   # f evaluated once per layer
            return z, h

        def forward_prop(x, f, Ws, bs):
            hs, zs = [x], [x]   # zs[0] is a placeholder
            for l, (W, b) in enumerate(zip(Ws, bs)):
                z, h = _layer(W, b, hs[-1], f)
                print(f"layer {l + 1}: W {W.shape}, z {z.shape}, h =", h.ravel())
                zs.append(z)
                hs.append(h)
            return hs, zs
        """),
    "backward_prop": _code("""
        def _step_down(W, dldh_above, dh_above):
            return W.T @ (dldh_above * dh_above)

        def backward_prop(loss, f, Ws, bs, zs, y):
            L = len(Ws)
            yhat, dh = f(zs[L])   # f evaluated once for the top layer
            dldhs = [loss(yhat, y)[1]]
            print("backward: dl/dyhat =", dldhs[0].ravel())
            for l in reversed(range(L)):
                dldhs.insert(0, _step_down(Ws[l], dldhs[0], dh))
                if l > 0:
                    _, dh = f(zs[l])
                print(f"backward: dldhs[{l}] =", dldhs[0].ravel())
            return dldhs
        """),
    "compute_gradients": _code("""
        def _delta(dldh, f, z):
            _, dh = f(z)
            return dldh * dh

        def compute_gradients(dldhs, f, zs, hs):
            dWs, dbs = [], []
            for l in range(len(zs) - 1):
                delta = _delta(dldhs[l + 1], f, zs[l + 1])
                dWs.append(delta @ hs[l].T)
                dbs.append(delta)
                print(f"gradients of layer {l}:", dWs[-1].shape, dbs[-1].shape)
            return dWs, dbs
        """),
})

# Defensive conversions: np.asarray(..., dtype=float), explicit (n, 1) reshapes and copies.
DEFENSIVE = Style("defensive_asarray", {
    "loss": _code("""
        import numpy as np

        def loss(yhat, y):
            yhat = np.asarray(yhat, dtype=float)
            y = np.asarray(y, dtype=float)
            diff = yhat - y
            return 0.5 * diff ** 2, diff
        """),
    "sigmoid": _code("""
        import numpy as np

        def sigmoid(z):
            z = np.array(z, dtype=float)   # a copy, so the caller's array is safe
            with np.errstate(over="ignore"):
                h = 1.0 / (1.0 + np.exp(-z))
            return h, h * (1.0 - h)
        """),
    "forward_prop": _code("""
        import numpy as np

        def forward_prop(x, f, Ws, bs):
            h = np.asarray(x, dtype=float).reshape(-1, 1)
            hs, zs = [h], [np.zeros_like(h)]
            for W, b in zip(Ws, bs):
                z = np.asarray(W, dtype=float) @ h + np.asarray(b, dtype=float).reshape(-1, 1)
                h = np.asarray(f(z)[0], dtype=float).reshape(-1, 1)
                zs.append(z)
                hs.append(h)
            return hs, zs
        """),
    "backward_prop": _code("""
        import numpy as np

        def backward_prop(loss, f, Ws, bs, zs, y):
            L = len(Ws)
            yhat = np.asarray(f(zs[L])[0], dtype=float).reshape(-1, 1)
            dldhs = [np.zeros((W.shape[1], 1)) for W in Ws] + [None]
            dldhs[L] = np.asarray(loss(yhat, y)[1], dtype=float).reshape(-1, 1)
            for l in range(L - 1, -1, -1):
                delta = dldhs[l + 1] * np.asarray(f(zs[l + 1])[1]).reshape(-1, 1)
                dldhs[l] = (np.asarray(Ws[l], dtype=float).T @ delta).reshape(-1, 1)
            return dldhs
        """),
    "compute_gradients": _code("""
        import numpy as np

        def compute_gradients(dldhs, f, zs, hs):
            dWs, dbs = [], []
            for l in range(len(zs) - 1):
                delta = np.asarray(dldhs[l + 1], dtype=float).reshape(-1, 1) * f(zs[l + 1])[1]
                h = np.asarray(hs[l], dtype=float).reshape(1, -1)
                dWs.append(delta * h)   # broadcasting (n, 1) * (1, m) is the outer product
                dbs.append(delta.copy())
            return dWs, dbs
        """),
})

# zs[0] = None and dldhs preallocated with None: the placeholder is never judged.
NONE_PLACEHOLDER = Style("none_placeholder", {
    "loss": _code("""
        def loss(yhat, y):
            e = yhat - y
            return e ** 2 / 2, e
        """),
    "sigmoid": _code("""
        import numpy as np

        def sigmoid(z):
            with np.errstate(over="ignore"):
                e = np.exp(-z)
            h = 1.0 / (1.0 + e)
            return h, h * (1.0 - h)
        """),
    "forward_prop": _code("""
        def forward_prop(x, f, Ws, bs):
            hs, zs = [x], [None]   # no z for the input layer
            for W, b in zip(Ws, bs):
                zs.append(W @ hs[-1] + b)
                hs.append(f(zs[-1])[0])
            return hs, zs
        """),
    "backward_prop": _code("""
        def backward_prop(loss, f, Ws, bs, zs, y):
            L = len(Ws)
            dldhs = [None for _ in range(L + 1)]
            dldhs[-1] = loss(f(zs[-1])[0], y)[1]
            for l in range(L, 0, -1):
                dldhs[l - 1] = Ws[l - 1].T @ (dldhs[l] * f(zs[l])[1])
            return dldhs
        """),
    "compute_gradients": _code("""
        def compute_gradients(dldhs, f, zs, hs):
            L = len(zs) - 1
            dWs, dbs = [None] * L, [None] * L
            for l in range(1, L + 1):
                dbs[l - 1] = dldhs[l] * f(zs[l])[1]
                dWs[l - 1] = dbs[l - 1] @ hs[l - 1].T
            return dWs, dbs
        """),
})

STYLES = (LECTURE_LOOPS, VECTORISED, DOT_OUTER, EINSUM, RECURSIVE, TUPLES, DEBUG_HELPERS, DEFENSIVE,
          NONE_PLACEHOLDER)
