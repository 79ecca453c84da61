"""Advice attached to errors that students' code commonly raises."""

import re


def hint(message: str) -> str:
    """Advice for errors a student's code commonly raises."""
    missing = re.search(r"NameError: name '(\w+)' is not defined", message)
    if missing and missing.group(1) == "hs":
        return "; backward_prop must not use a notebook variable hs: compute the prediction as f(zs[L])[0]"
    if missing:
        return f"; {missing.group(1)} is neither an argument nor defined in your function's cell"
    if "shapes" in message and ("not aligned" in message or "broadcast" in message or "mismatch" in message):
        return "; compare the shapes with the docstring (is a W transposed, a column flattened?)"
    return ""
