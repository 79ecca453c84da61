"""Code the notebook gives students ready-made, and the kit's checks reuse.

Nothing here is graded: extra activations to try the network with, the XOR network and
data of the lecture, the total loss over samples, the gradient-descent training loop and
centred finite differences for gradient checking.
"""

import contextlib
import copy
import io
import signal
import time
import warnings

import numpy as np

GIVEN = "backprop_given"  # the module the notebook keeps its given code in (see own)


def own(helper):
    """Re-make a helper of the notebook with the module backprop_given as its globals, keep it
    there and return it (the decorator `@given.own` of the given cells).

    A function defined in a cell looks up every name it uses (np, sum, the other helpers) in the
    notebook's globals, where a student's `from numpy import *` or own `train` would replace them;
    re-made, it finds them in the module, which only given code writes. Classes get their methods
    re-made, a contextlib.contextmanager its generator function (the one decorator given code uses).
    The other way round, a given cell does not replace a name the student's cells defined before it
    (numpy's tanh that a student's sigmoid uses): it returns that, and only the module gets the helper.
    """
    import contextlib
    import sys
    import types

    home = vars(sys.modules["backprop_given"])
    cell = sys._getframe(1).f_globals  # the notebook's globals, which the decorated def binds in
    before = cell.get(helper.__name__, helper)

    def remade(fn):
        new = types.FunctionType(fn.__code__, home, fn.__name__, fn.__defaults__, fn.__closure__)
        new.__kwdefaults__, new.__qualname__, new.__doc__ = fn.__kwdefaults__, fn.__qualname__, fn.__doc__
        new.__annotations__, new.__module__ = fn.__annotations__, home["__name__"]
        return new

    if isinstance(helper, type):
        for name, value in list(vars(helper).items()):
            if isinstance(value, types.FunctionType):
                setattr(helper, name, remade(value))
        helper.__module__ = home["__name__"]
        made = helper
    elif hasattr(helper, "__wrapped__"):
        made = contextlib.contextmanager(remade(helper.__wrapped__))
    else:
        made = remade(helper)
    home[helper.__name__] = made
    ours = before is helper or getattr(before, "__module__", None) == home["__name__"]
    return made if ours else before


class TimeLimitExceeded(BaseException):
    """A block ran past its time limit. A BaseException, so `except Exception` does not hide it."""


@contextlib.contextmanager
def time_limit(seconds: float, what: str = "this code"):
    """Stop the block with TimeLimitExceeded after `seconds` of wall-clock time.

    Guards against endless loops: without it a stuck cell hangs until you interrupt the kernel.
    Does nothing where signal.setitimer is missing (Windows).
    """
    if not hasattr(signal, "setitimer"):
        yield
        return

    def alarm(signum, frame):
        raise TimeLimitExceeded(f"{what} did not finish within {seconds:g} s: is there an endless loop?")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class CappedOutput(io.TextIOBase):
    """A text stream that keeps the first `keep` characters written to it and counts the rest."""

    def __init__(self, keep: int):
        self.keep, self.text, self.dropped = keep, "", 0

    def writable(self) -> bool:
        return True

    def write(self, text) -> int:
        text = str(text)
        room = max(self.keep - len(self.text), 0)
        self.text += text[:room]
        self.dropped += max(len(text) - room, 0)
        return len(text)


@contextlib.contextmanager
def capped_output(what: str = "your functions", keep: int = 3000):
    """Catch what the block prints, writes to stderr or warns, then show at most `keep`
    characters of it on stdout, saying how much was dropped.

    nbgrader scores a test cell with anything on stderr 0, and a forgotten print in a loop
    would otherwise fill the notebook with megabytes of output.
    """
    sink = CappedOutput(keep)
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink), \
                warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("default")  # each warning once per place it comes from
            try:
                yield sink
            finally:
                for warning in caught:
                    sink.write(f"{warning.category.__name__}: {warning.message}\n")
    finally:
        text = sink.text
        if text:
            print(text, end="" if text.endswith("\n") else "\n")
        if sink.dropped:
            print(f"[{sink.dropped:,} more characters of output from {what} dropped: "
                  f"only the first {keep:,} are shown]")


def homework_functions(error: BaseException,
                       names=("loss", "sigmoid", "forward_prop", "backward_prop", "compute_gradients")) -> list:
    """The homework's functions that error's traceback passes through, outermost first."""
    found, tb = [], error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_name in names:
            found.append(tb.tb_frame.f_code.co_name)
        tb = tb.tb_next
    return found


def describe_failure(error: BaseException, seconds: "float | None" = None, printed: int = 0) -> str:
    """Why a call into the homework's functions failed, naming the function.

    seconds: the time limit, if error is TimeLimitExceeded; printed: how many characters of
    output the functions wrote before (printing on every call can make them too slow).
    """
    called = homework_functions(error)
    if isinstance(error, TimeLimitExceeded):
        # The loop is most likely in the outermost function still running; it may have been
        # stopped inside a function it calls.
        limit = f"within {seconds:g} s" if seconds is not None else "in time"
        where = f" (it was stopped while calling {called[-1]})" if called and called[-1] != called[0] else ""
        slow = (f" Your functions printed {printed:,} characters before that: printing on every call is slow, "
                "remove the prints." if printed > 1000 else "")
        return (f"{called[0] if called else 'your code'} did not finish {limit}{where}: is there an endless "
                f"loop?{slow}")
    if isinstance(error, NotImplementedError) and called:
        return f"{called[-1]} is not written yet (its cell still raises NotImplementedError)"
    return f"{called[-1] if called else 'your code'} raised {type(error).__name__}: {error}"


@contextlib.contextmanager
def student_code(what: str, seconds: float):
    """Run a block that calls the homework's functions, as the tests and demonstrations do.

    Stops it after `seconds` (an endless loop), keeps what it prints or warns off stderr and
    short (capped_output), ignores numpy's floating-point warnings, and turns an unwritten or
    endless function into an AssertionError that names it. Other errors pass through unchanged,
    with their traceback into your code.
    """
    try:
        with capped_output(what) as output, np.errstate(all="ignore"), time_limit(seconds, what):
            yield
    except (NotImplementedError, TimeLimitExceeded) as error:
        raise AssertionError(describe_failure(error, seconds, len(output.text) + output.dropped)) from None


def before_call(args: dict) -> dict:
    """What a call's arguments hold before the call, for the tests to compute their expected values
    from and to see in-place changes by: name -> (a deep copy, a list's own items or None).

    args: argument name -> the object passed (as in the function's signature, in order).
    """
    return {name: (copy.deepcopy(value), list(value) if isinstance(value, list) else None)
            for name, value in args.items()}


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape
                and a.dtype == b.dtype and bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")))
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a is b or type(a) is type(b) and a == b


def assert_unchanged(function: str, args: dict, before: dict) -> None:
    """Fail, as the hidden tests do, when the call changed an argument in place: an array's values
    or a list's items (replaced, added or removed). before: before_call(args) taken before the call."""
    changed = [name for name, value in args.items()
               if not _same(value, before[name][0])
               or isinstance(value, list) and (len(value) != len(before[name][1])
                                               or any(x is not y for x, y in zip(value, before[name][1])))]
    assert not changed, (f"{function} changed its argument{'s' if len(changed) > 1 else ''} {', '.join(changed)} "
                         "in place; work on new arrays instead (for example z = W @ h + b, not h += ...)")


def tanh(z):
    """Hyperbolic tangent elementwise and its derivative; returns (h, g) shaped like z."""
    h = np.tanh(z)
    return h, 1.0 - h**2


def identity(z):
    """Identity activation (a linear layer) and its derivative; returns (z, ones) shaped like z."""
    z = np.asarray(z, dtype=float)
    return z, np.ones_like(z)


def logistic(z):
    """The logistic function without its derivative: a stand-in the forward tests give forward_prop."""
    return 1.0 / (1.0 + np.exp(-z)), None


def double(z):
    """f(z) = 2z and f'(z) = 2: a stand-in activation under which every derivative has a closed form."""
    return 2.0 * z, 2.0 * np.ones_like(z)


def half_squares(yhat, y):
    """The squared loss, as the tests give it to backward_prop: (0.5 * (yhat - y)**2, yhat - y)."""
    return 0.5 * (yhat - y) ** 2, yhat - y


def xor_network(F: float = 5.0):
    """The lecture's hand-made XOR network, scaled by F; returns (Ws, bs) for a 2-2-1 net."""
    Ws = [F * np.array([[1.0, -1.0], [-1.0, 1.0]]), F * np.array([[1.0, 1.0]])]
    bs = [F * np.array([[-0.5], [-0.5]]), F * np.array([[-0.5]])]
    return Ws, bs


def noisy_xor(n: int, rng: "np.random.Generator", noise: float = 0.1):
    """n noisy XOR samples as columns: x of shape (2, n), y of shape (1, n) with 0/1 labels."""
    bits = (rng.random((2, n)) > 0.5).astype(float)
    x = bits + noise * rng.standard_normal((2, n))
    y = np.logical_xor(x[0] > 0.5, x[1] > 0.5).astype(float)[None, :]
    return x, y


def random_network(sizes, rng: "np.random.Generator", scale: float = 0.5):
    """Random weights for layer sizes [n_0, ..., n_L]; returns (Ws, bs)."""
    Ws = [scale * rng.standard_normal((n_out, n_in)) for n_in, n_out in zip(sizes, sizes[1:])]
    bs = [scale * rng.standard_normal((n_out, 1)) for n_out in sizes[1:]]
    return Ws, bs


def compute_loss(loss, predict, x, y) -> float:
    """Total loss E = sum over samples t of loss(predict(x^t), y^t), summed over outputs.

    x: inputs as columns, shape (n_0, N). y: targets, shape (n_L, N).
    predict: maps one column (n_0, 1) to a prediction (n_L, 1).
    """
    return float(sum(np.sum(loss(predict(x[:, [t]]), y[:, [t]])[0]) for t in range(x.shape[1])))


def network_loss(x, y, Ws, bs, f) -> float:
    """The total squared loss E = sum of 0.5 * (yhat - y)**2 of the network (Ws, bs) with
    activation f, over every output and every column of x: a given forward pass, not yours.

    x: inputs, shape (n_0, N) (N = 1 for one sample); y: targets, shape (n_L, N).
    The gradient check's finite differences and the training loss curve use this, so that what
    they compare your back-propagated gradients with does not depend on your own code.
    """
    h = np.asarray(x, dtype=float)
    for W, b in zip(Ws, bs):
        h = f(W @ h + b)[0]
    return float(np.sum(0.5 * (h - y) ** 2))


def train(x, y, Ws, bs, eta, epochs, f, loss, forward_prop, backward_prop, compute_gradients):
    """Batch gradient descent: each epoch sums the gradients over all samples, then steps.

    x: inputs, shape (n_0, N); y: targets, shape (n_L, N); Ws, bs: the starting network
    (left unchanged); eta: step size; epochs: number of steps. The gradients come from your
    forward_prop, backward_prop (given loss) and compute_gradients; the loss E of each step from
    network_loss.
    Returns (Ws, bs, Es): the trained network and the total loss before each step.
    """
    Ws = [np.array(W, dtype=float) for W in Ws]
    bs = [np.array(b, dtype=float) for b in bs]
    Es = []
    for _ in range(epochs):
        dWs = [np.zeros_like(W) for W in Ws]
        dbs = [np.zeros_like(b) for b in bs]
        for t in range(x.shape[1]):
            xt, yt = x[:, [t]], y[:, [t]]
            hs, zs = forward_prop(xt, f, Ws, bs)
            dldhs = backward_prop(loss, f, Ws, bs, zs, yt)
            dtWs, dtbs = compute_gradients(dldhs, f, zs, hs)
            for l in range(len(Ws)):
                dWs[l] += dtWs[l]
                dbs[l] += dtbs[l]
        E = network_loss(x, y, Ws, bs, f)
        for l in range(len(Ws)):
            Ws[l] = Ws[l] - eta * dWs[l]
            bs[l] = bs[l] - eta * dbs[l]
        Es.append(E)
    return Ws, bs, Es


def numerical_gradients(E, Ws, bs, eps: float = 1e-6):
    """Centred finite differences (E(theta + eps/2) - E(theta - eps/2)) / eps for every parameter.

    E: maps (Ws, bs) to the total loss, a float. Ws, bs: the network (left unchanged).
    Returns (dWs, dbs) shaped like Ws and bs.
    """
    params = [np.array(p, dtype=float) for p in list(Ws) + list(bs)]
    L = len(Ws)
    grads = [np.zeros_like(p) for p in params]
    for p, grad in zip(params, grads):
        for idx in np.ndindex(p.shape):
            saved = p[idx]
            p[idx] = saved + 0.5 * eps
            up = E(params[:L], params[L:])
            p[idx] = saved - 0.5 * eps
            down = E(params[:L], params[L:])
            p[idx] = saved
            grad[idx] = (up - down) / eps
    return grads[:L], grads[L:]


def relative_error(a, b) -> float:
    """||a - b|| / (||a|| + ||b||), 0 when both are 0: scale-free, robust to single zeros.

    nan when either holds nan or inf, so that no tolerance accepts it.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return float("nan")
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    return float(np.linalg.norm(a - b) / denom) if denom > 0 else 0.0


def backprop_gradients(x, y, Ws, bs, f, loss, forward_prop, backward_prop, compute_gradients):
    """Gradients of loss(prediction, y) for one sample by back-propagation: (dWs, dbs).

    x: (n_0, 1); y: (n_L, 1); the functions are the five of the homework (or stand-ins).
    """
    hs, zs = forward_prop(x, f, Ws, bs)
    dldhs = backward_prop(loss, f, Ws, bs, zs, y)
    return compute_gradients(dldhs, f, zs, hs)


def finite_difference_gradients(x, y, Ws, bs, f, eps: float = 1e-6):
    """The same gradients by centred finite differences of network_loss (a given forward pass
    and the squared loss, not your functions): (dWs, dbs)."""
    return numerical_gradients(lambda Ws, bs: network_loss(x, y, Ws, bs, f), Ws, bs, eps)


def layer_errors(analytic, numeric) -> list:
    """Per layer l, the relative error between two (dWs, dbs) pairs over (Ws[l], bs[l]) together."""
    (adWs, adbs), (ndWs, ndbs) = analytic, numeric
    return [relative_error(np.concatenate([np.ravel(adWs[l]), np.ravel(adbs[l])]),
                           np.concatenate([np.ravel(ndWs[l]), np.ravel(ndbs[l])]))
            for l in range(len(adWs))]


def gradient_check(x, y, Ws, bs, f, loss, forward_prop, backward_prop, compute_gradients,
                   eps: float = 1e-6) -> list:
    """Per layer, the relative error of your back-propagated gradients (forward_prop, then
    backward_prop given loss, then compute_gradients) against finite differences of network_loss."""
    # Taken before your functions run: a function that changes Ws or bs in place cannot move them.
    numeric = finite_difference_gradients(x, y, Ws, bs, f, eps)
    analytic = backprop_gradients(x, y, Ws, bs, f, loss, forward_prop, backward_prop, compute_gradients)
    return layer_errors(analytic, numeric)


def parameter_layer_name(l: int) -> str:
    """How every message names the parameters Ws[l], bs[l]: the lecture's W^(l+1), b^(l+1).

    Layer 0 is the input and has no parameters, so Ws[0] holds W^1: 'W^1, b^1 (Ws[0], bs[0])'.
    """
    return f"W^{l + 1}, b^{l + 1} (Ws[{l}], bs[{l}])"


def gradient_diagnosis(errors, tol: float = 1e-6) -> list:
    """One sentence per layer on a gradient check's relative errors, then what to look at.

    errors: relative error per layer of parameters, errors[l] for (Ws[l], bs[l]) (gradient_check's
    result). The same words appear on the feedback page and in the notebook's tests and self-check.
    """
    errors = [float(e) for e in errors]
    bad = [l for l, e in enumerate(errors) if not e <= tol]  # nan is never <= tol: it counts as bad
    lines = [f"{parameter_layer_name(l)}: relative error {e:.1e}, "
             + ("DISAGREES with finite differences" if l in bad else "agrees with finite differences")
             for l, e in enumerate(errors)]
    if not bad:
        return lines
    top = len(errors) - 1
    if any(e != e for e in errors):
        lines.append("nan appeared: look for an overflow or a division by zero")
    elif top in bad:
        lines.append(f"the top layer's gradients, {parameter_layer_name(top)}, are already wrong: check "
                     "dldhs[L] = loss'(f(zs[L])[0], y) in backward_prop, and dWs[l] = (dldhs[l+1] * "
                     "f'(zs[l+1])) @ hs[l].T, dbs[l] = dldhs[l+1] * f'(zs[l+1]) in compute_gradients "
                     "(both need the activation's derivative f'(z))")
    else:
        k = max(bad)
        above = " and above" if k + 1 < top else ""
        lines.append(f"the gradients of {parameter_layer_name(k + 1)}{above} agree, so the step down in "
                     f"backward_prop from dldhs[{k + 2}] to dldhs[{k + 1}] is suspect: add up the "
                     f"contributions of every unit i (+=, not =), multiply by f'(zs[{k + 2}]), and use "
                     f"Ws[{k + 1}] transposed")
    if any(0.3 < e < 1.0 for e in errors):
        lines.append("an error near 1 often means a wrong sign or a term missing altogether")
    return lines


def training_diagnosis(losses) -> str:
    """One sentence on a training run's loss curve (the same on the feedback page and in the self-check)."""
    losses = [float(e) for e in losses]
    if not losses or any(e != e or e in (float("inf"), float("-inf")) for e in losses):
        return "the loss became nan or inf: a gradient is far too large or has the wrong sign"
    if losses[-1] < losses[0]:
        return f"the loss decreased from {losses[0]:.4g} to {losses[-1]:.4g} over {len(losses)} steps"
    return (f"the loss did not decrease ({losses[0]:.4g} at the start, {losses[-1]:.4g} at the end): a gradient "
            "has the wrong sign or is missing a factor")


def self_check(sigmoid, loss, forward_prop, backward_prop, compute_gradients, seed: int = 0,
               seconds: float = 5.0) -> bool:
    """Check your functions together before you submit: gradient checks on three random networks
    and a short training run, with the diagnoses the feedback page gives. Returns True when all pass.

    Your functions get `seconds` in all; the check stops at the first error or when time runs out
    (an endless loop), naming the function. What they print is shown, but only the first lines.
    """
    rng = np.random.default_rng(seed)
    deadline = time.monotonic() + seconds

    def attempt(what, call, *args):
        """(call(*args), True) within what is left of the time, or (None, False) after saying why not."""
        try:
            with capped_output(what) as output, np.errstate(all="ignore"), \
                    time_limit(max(deadline - time.monotonic(), 0.001), what):
                return call(*args), True
        except (Exception, TimeLimitExceeded) as error:
            if isinstance(error, TimeLimitExceeded):
                print(f"{what}: " + describe_failure(error, seconds, len(output.text) + output.dropped)
                      + f" (self_check gives your functions {seconds:g} s in all)")
            else:
                print(f"{what}: " + describe_failure(error))
            print("Self-check stopped: fix this first, then run it again.")
            return None, False

    passed = True
    for sizes, f in [((2, 2, 1), sigmoid), ((3, 4, 2), tanh), ((2, 3, 3, 2), sigmoid)]:
        Ws, bs = random_network(sizes, rng)
        x, y = rng.standard_normal((sizes[0], 1)), rng.random((sizes[-1], 1))
        what = f"the gradient check on network {sizes} ({f.__name__})"
        errors, ran = attempt(what, gradient_check, x, y, Ws, bs, f, loss, forward_prop, backward_prop,
                              compute_gradients)
        if not ran:
            return False
        passed &= all(e <= 1e-6 for e in errors)  # False for nan too
        print(f"network {sizes} ({f.__name__}):\n  " + "\n  ".join(gradient_diagnosis(errors)))
    x, y = noisy_xor(16, rng)
    Ws, bs = random_network([2, 2, 1], rng)
    trained, ran = attempt("the training run", train, x, y, Ws, bs, 0.5, 40, sigmoid, loss, forward_prop,
                           backward_prop, compute_gradients)
    if not ran:
        return False
    Es = trained[2]
    print("training:", training_diagnosis(Es))
    passed &= bool(Es[-1] < Es[0])
    print("All self-checks pass." if passed else "Some self-checks fail: see above.")
    return bool(passed)
