"""The kit on Gradescope: an autograder zip built from the course, graded by the kit's own grader.

package.py      builds backprop-gradescope.zip (`python -m autograder gradescope backprop`)
runner.py       what run_autograder runs for each submission, inside Gradescope's container
setup.sh        Gradescope runs it once, as root, to build the image: requirements, user, permissions
run_autograder  Gradescope runs it once per submission

May import: every layer but the commands (it builds the notebook with authoring/, grades with
judging/ and writes results with outputs/); only the command line imports it.
"""
