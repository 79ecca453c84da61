"""Public code that runs where the student code runs: stand-in collaborators and the notebook's
helpers that chain student functions.

Everything here is given to students in the notebook (solutions.helpers), so it may be copied
into the sandbox; reference versions of graded functions are not (see collaborators.py).
"""

from solutions import helpers

# Collaborators anyone may see: activations and stand-ins the notebook itself defines.
PUBLIC = {name: getattr(helpers, name) for name in ("tanh", "identity", "logistic", "double", "half_squares")}


def train_losses(x, y, Ws, bs, eta, epochs, f, loss, forward_prop, backward_prop, compute_gradients):
    """The loss trajectory of helpers.train: a list of `epochs` totals."""
    return helpers.train(x, y, Ws, bs, eta, epochs, f, loss, forward_prop, backward_prop,
                         compute_gradients)[2]


# Helpers that take functions as arguments, by name: a check (or a visible test run by the
# kit's grader) calls them with student functions, and they run next to those functions.
PROCEDURES = {
    **{name: getattr(helpers, name) for name in ("backprop_gradients", "finite_difference_gradients",
                                                  "gradient_check", "train", "compute_loss")},
    "train_losses": train_losses,
}
