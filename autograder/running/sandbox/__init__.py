"""Running student code where it can see nothing but itself.

wire.py    the byte format both sides speak (no pickle: nothing executable crosses)
worker.py  what runs inside the sandbox: a pre-warmed zygote that forks one child per submission
confine.py takes privileges away inside: root, capabilities, and system calls (seccomp)
launch.py  starts zygotes under bubblewrap (or, with a loud warning, under resource limits only)
remote.py  the grader's side of a child: calls by name, answers collaborator callbacks, timeouts
"""
