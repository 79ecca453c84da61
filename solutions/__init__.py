"""Reference solutions for the back-propagation homework: the single source of truth.

`solutions.backprop` holds the five functions students write; `solutions.helpers` holds the
code the notebook hands to students ready-made (extra activations, the total loss, the
training loop, finite differences). The source notebook's solution regions and given cells
are generated from these modules by `autograder.authoring.build_notebook`.
"""
