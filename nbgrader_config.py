"""nbgrader configuration of the backprop course. Every path is relative to this file, so a
copied course folder works on its own. nbgrader reads this file only from the current
directory: run nbgrader (and python -m autograder) from the course root."""

import os

here = os.path.dirname(os.path.abspath(__file__))

c = get_config()  # noqa: F821  (nbgrader provides get_config)
c.CourseDirectory.root = here
c.CourseDirectory.course_id = "backprop-kit"
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(here, "gradebook.db")

# Files submitted next to the notebook are copied into the grading folder, where Python
# imports them before installed packages: never copy code (a student's numpy.py or
# autograder.py would replace the real one in the hidden tests).
c.CourseDirectory.ignore = [".ipynb_checkpoints", "__pycache__", "feedback",
                            "*.py", "*.pyc", "*.pyo", "*.so", "*.pyd", "*.pth", "*.egg-link"]

# A deleted test cell is put back and graded instead of becoming "needs manual grading".
c.OverwriteCells.add_missing_cells = True

# Per-cell limit. The slowest cell takes ~1 s on the reference and a few seconds with
# pure-Python loops; an endless loop costs each cell that calls it this long.
c.Execute.timeout = 10

# `nbgrader autograde` and `nbgrader generate_feedback` (and formgrader's buttons, which call them)
# grade through the kit: its sandbox and checks in Execute's place, its page as the feedback
# (autograder/grading/nbgrader_steps.py). BACKPROP_KIT_NBGRADER=stock in the environment returns both to
# stock nbgrader (in-kernel execution of the hidden tests).
if os.environ.get("BACKPROP_KIT_NBGRADER", "kit").strip().lower() != "stock":
    c.Autograde.autograde_preprocessors = [
        "autograder.grading.nbgrader_steps.KitExecute",
        "nbgrader.preprocessors.IgnorePattern",
        "nbconvert.preprocessors.ClearMetadataPreprocessor",
        "nbgrader.preprocessors.LimitOutput",
        "autograder.grading.nbgrader_steps.KitSaveAutoGrades",
        "nbgrader.preprocessors.AssignLatePenalties",
        "autograder.grading.nbgrader_steps.KitCheckCellMetadata",
    ]
    # nbgrader's sanitising pass, with the same metadata checks done with the schema compiled once and
    # the source notebook's cells read from the gradebook once per run.
    c.Autograde.sanitize_preprocessors = [
        "nbgrader.preprocessors.ClearOutput",
        "nbgrader.preprocessors.DeduplicateIds",
        "autograder.grading.nbgrader_steps.KitOverwriteKernelspec",
        "autograder.grading.nbgrader_steps.KitOverwriteCells",
        "autograder.grading.nbgrader_steps.KitCheckCellMetadata",
    ]
    c.GenerateFeedback.preprocessors = []
    c.GenerateFeedback.exporter_class = "autograder.grading.nbgrader_steps.KitFeedbackExporter"
