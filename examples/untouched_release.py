# The release notebook submitted without any change: every function is still a stub.
# base: release
# wrong: loss, sigmoid, forward_prop, backward_prop, compute_gradients
