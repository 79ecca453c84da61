"""The spec in words: the numbers, tables and lists that prose shows, rendered from autograder/homework/spec.py.

Prose never types a number the grading depends on. It names it with a placeholder that
`render` replaces at build time:

    <<spec: total_points>>      a phrase or table from PHRASES below (lower-case names)
    <<spec: GRADCHECK_TOL>>     the value of that spec constant, as Python writes it (upper-case)

build_notebook renders the notebook's cells this way, and `make release` rewrites README.md's
grading section (README_GRADING below) between its markers, so both follow spec.py.
"""

import re
from collections.abc import Callable
from pathlib import Path

from . import spec

PLACEHOLDER = re.compile(r"<<spec: (\w+)>>")

_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
          "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
          "nineteen", "twenty")


def number_word(n: int) -> str:
    """n in words up to twenty (as prose writes small counts), in digits beyond."""
    return _WORDS[n] if 0 <= n < len(_WORDS) else str(n)


def and_list(items: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _span(values: list[int]) -> str:
    low, high = min(values), max(values)
    return str(low) if low == high else f"{low} to {high}"


def network_label(sizes, activation: str) -> str:
    """'2-5-3-2 identity': layer sizes n_0-...-n_L and the activation."""
    return f"{'-'.join(map(str, sizes))} {activation}"


def activations() -> list[str]:
    """The hidden networks' activations, in order of first use."""
    return list(dict.fromkeys(activation for _, activation in spec.NETWORKS))


def networks_summary() -> str:
    """'six networks of depth 1 to 4, up to three outputs, with the activations sigmoid, tanh and identity'."""
    depths = [len(sizes) - 1 for sizes, _ in spec.NETWORKS]
    outputs = max(sizes[-1] for sizes, _ in spec.NETWORKS)
    count = len(spec.NETWORKS)
    names = activations()
    return (f"{number_word(count)} network{'s' * (count != 1)} of depth {_span(depths)}, "
            f"up to {number_word(outputs)} output{'s' * (outputs != 1)}, "
            f"with the activation{'s' * (len(names) != 1)} {and_list(names)}")


def networks_list() -> str:
    """The hidden networks, one per item: '3-1 sigmoid, 2-2-1 sigmoid and ...'."""
    return and_list([network_label(sizes, activation) for sizes, activation in spec.NETWORKS])


def judges_words(cell: spec.TestCell) -> str:
    if tuple(cell.judges) == tuple(spec.FUNCTIONS):
        return f"all {number_word(len(spec.FUNCTIONS))} together"
    return ", ".join(cell.judges)


def _table(head: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def points_table() -> str:
    """The notebook's table: cell, points, the functions it judges, whether it runs hidden tests."""
    return _table(("test cell", "points", "judges", "hidden tests"),
                  [(f"`{c.grade_id}`", str(c.points), judges_words(c), "yes" if c.checks else "no")
                   for c in spec.TEST_CELLS])


def has_code(code: str) -> bool:
    """Whether code holds more than comments and blank lines."""
    return any(line.strip() and not line.lstrip().startswith("#") for line in code.splitlines())


def readme_points_table(visible: dict[str, str]) -> str:
    """README's table: cell, points, which functions it judges, visible and/or hidden tests.

    visible: grade_id -> the visible test code of the cell (empty when it has none).
    """
    def kinds(cell: spec.TestCell) -> str:
        return " + ".join(k for k, on in (("visible", has_code(visible.get(cell.grade_id, ""))),
                                          ("hidden", cell.checks)) if on)

    return _table(("cell", "points", "judges", "tests"),
                  [(f"`{c.grade_id}`", str(c.points), judges_words(c), kinds(c)) for c in spec.TEST_CELLS])


def number(value: float) -> str:
    """A number as prose writes it: 5, 0.5, 1e-6 (not 1e-06)."""
    return re.sub(r"e([+-])0*(\d)", lambda m: f"e{m.group(1).replace('+', '')}{m.group(2)}", f"{value:g}")


def _sigmoid_extremes() -> str:
    """'±710, ±1000': the magnitudes of autograder.homework.cases.SIGMOID_EXTREMES past exp's overflow (~709.8)."""
    from . import cases

    values = sorted({abs(float(z)) for z in cases.SIGMOID_EXTREMES.ravel() if abs(z) > 709.78})
    return ", ".join(f"±{number(v)}" for v in values)


PHRASES: dict[str, Callable[[], str]] = {
    "total_points": lambda: str(spec.TOTAL_POINTS),
    "cell_count": lambda: number_word(len(spec.TEST_CELLS)),
    "points_table": points_table,
    "networks_summary": networks_summary,
    "networks_list": networks_list,
    "activations": lambda: and_list(activations()),
    "combined_cells": lambda: and_list([f"`{c.grade_id}`" for c in spec.TEST_CELLS if len(c.judges) > 1]),
    "xor_f": lambda: number(spec.XOR_F),
    "xor_outputs": lambda: and_list([f"{v:.6f}" for v in spec.XOR_OUTPUTS]),
    "gradcheck_eps": lambda: number(spec.GRADCHECK_EPS),
    "gradcheck_tol": lambda: number(spec.GRADCHECK_TOL),
    "training_epochs": lambda: str(spec.TRAINING_EPOCHS),
    "training_samples": lambda: str(spec.TRAINING_SAMPLES),
    "training_rtol": lambda: number(spec.TRAINING_RTOL),
    "rtol": lambda: number(spec.RTOL),
    "atol": lambda: number(spec.ATOL),
    "xor_atol": lambda: number(spec.XOR_ATOL),
    "check_seconds": lambda: number(spec.CHECK_SECONDS),
    "combined_activation": lambda: str(getattr(spec, "COMBINED_ACTIVATION", "sigmoid")),
    "sigmoid_extremes": _sigmoid_extremes,
}


class PlaceholderError(ValueError):
    """A placeholder names nothing in the spec; the message names the file, the line and the choices."""


def render(text: str, where: str = "the text", extra: dict[str, Callable[[], str]] | None = None,
           first_line: int = 1) -> str:
    """text with every <<spec: NAME>> replaced (see the module docstring); errors name `where`
    and the line, counting text's first line as first_line."""
    phrases = {**PHRASES, **(extra or {})}

    def one(match: re.Match) -> str:
        name = match.group(1)
        if name in phrases:
            return phrases[name]()
        if name.isupper() and hasattr(spec, name):
            return repr(getattr(spec, name))
        line = first_line + text.count("\n", 0, match.start())
        raise PlaceholderError(
            f"{where}, line {line}: unknown placeholder {match.group(0)}; use one of "
            f"{', '.join(sorted(phrases))} or an upper-case constant of autograder/homework/spec.py")

    return PLACEHOLDER.sub(one, text)


# README.md's "How it is graded" opening, table and list of hidden checks. `make release` writes it
# between the two markers; a test fails when README.md and this template disagree.
README_BEGIN = ("<!-- generated from autograder/homework/spec.py by `make release` (wording: README_GRADING in "
                "autograder/homework/spec_text.py); edits here are overwritten -->")
README_END = "<!-- end of generated text -->"
README_GRADING = """\
<<spec: total_points>> points in <<spec: cell_count>> test cells. A `test_<function>*` cell judges \
one function only and gives it
*reference* collaborators (the reference loss and activation, `zs` from the reference forward pass,
`dldhs` from the reference back-propagation), so one mistake never costs points twice. Each cell is
all or nothing.

<<spec: readme_points_table>>

The hidden tests (`autograder/homework/checks/`) check:

- values and shapes on <<spec: networks_summary>>;
  by layer sizes: <<spec: networks_list>>;
- the lecture's XOR network (F = <<spec: xor_f>>): outputs <<spec: xor_outputs>>, to within <<spec: xor_atol>>;
- `sigmoid` at large |z|, past where `exp` overflows (<<spec: sigmoid_extremes>>): h and g finite, with the
  right limits (numpy's overflow warning is ignored);
- that `backward_prop` ignores a stale notebook variable `hs` (the prediction is `f(zs[L])[0]`);
- that no function modifies its arguments and that a repeated call gives the same answer;
- values against the reference's to a relative <<spec: rtol>> (absolute <<spec: atol>> near zero);
- every input form a docstring promises (`spec.INPUT_FORMS`): a float or 0-d `y` for `backward_prop`,
  float and 0-d inputs of `loss` and `sigmoid`, the `zs[0]` placeholder; a failure names the form;
- the student's chain (`forward_prop`, `backward_prop` with the student's `loss`, `compute_gradients`)
  against the exact gradient of the reference on the hidden networks whose activation is
  <<spec: combined_activation>> (with the student's own <<spec: combined_activation>>): relative error
  ‖a − n‖ / (‖a‖ + ‖n‖) per layer below <<spec: gradcheck_tol>> (correct gradients give below 1e-7; the classic
  mistakes give 1e-2 and more);
- a deterministic <<spec: training_epochs>>-step gradient-descent run on <<spec: training_samples>> noisy XOR \
samples, stepped by the
  student's summed gradients, each step's loss computed by the grader with the reference forward pass and
  loss: it must fall and follow the reference's own trajectory to a relative <<spec: training_rtol>>;
- nan or inf anywhere in what a check reads fails it.

A hidden check stops a student function after <<spec: check_seconds>> s (`CHECK_SECONDS`)."""


def readme_section(visible: dict[str, str]) -> str:
    """The generated part of README.md's grading section, markers included."""
    body = render(README_GRADING, "README_GRADING in autograder/homework/spec_text.py",
                  {"readme_points_table": lambda: readme_points_table(visible)})
    return f"{README_BEGIN}\n{body}\n{README_END}"


def update_readme(readme: Path, visible: dict[str, str]) -> bool:
    """Rewrite the generated part of readme in place; returns whether it changed.

    Raises ValueError naming the file when the markers are missing.
    """
    text = readme.read_text()
    start, end = text.find(README_BEGIN), text.find(README_END)
    if start < 0 or end < start:
        raise ValueError(f"{readme}: the markers of the generated grading section are missing; put the two lines\n"
                         f"{README_BEGIN}\n{README_END}\nwhere the section should go")
    new = text[:start] + readme_section(visible) + text[end + len(README_END):]
    if new == text:
        return False
    readme.write_text(new)
    return True
