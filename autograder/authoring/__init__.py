"""The homework made ready to release: the notebook built and the homework self-tested.

build_notebook.py (source/backprop/backprop.ipynb from its percent-format source, the reference
solutions and the spec), selftest.py (the spec checked and the reference graded both ways, in the
kernel and in the sandbox: `make release` writes nothing unless it passes).

May import: course/, judging/, running/, homework/ and the base.
"""
