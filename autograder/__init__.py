"""backprop-kit's grading package: hidden checks, notebook builder, course tools and grader.

Start at spec.py (what is graded and how much it is worth), checks/ (the hidden tests) and
__main__.py (the command line: python -m autograder --help).
"""
