"""Kit procedures that chain several student functions; they run where the student code runs.

Each takes the functions it chains as arguments (student functions or reference
collaborators, resolved by the executor) and returns plain arrays. They are the notebook's
own given helpers (solutions.helpers), so students run the same code the graders do.
"""

from solutions import helpers


def train_losses(x, y, Ws, bs, eta, epochs, f, loss, forward_prop, backward_prop, compute_gradients):
    """The loss trajectory of helpers.train: a list of `epochs` totals."""
    return helpers.train(x, y, Ws, bs, eta, epochs, f, loss, forward_prop, backward_prop,
                         compute_gradients)[2]


PROCEDURES = {
    "backprop_gradients": helpers.backprop_gradients,
    "finite_difference_gradients": helpers.finite_difference_gradients,
    "train_losses": train_losses,
}
