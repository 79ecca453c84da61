# The reference solutions, as a student who got everything right would submit them.
# base: reference
# wrong:
