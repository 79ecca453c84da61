"""How student code runs: calling student functions by name, in the notebook kernel or in the sandbox.

executor.py (the call loop both sides share: time limit, silenced output, plain returns),
in_process.py (the notebook kernel's executor), notebook_code.py (which cells of a submission run),
sandbox/ (where submissions are sandboxed: bubblewrap launch, the zygote inside, the wire format,
the grader's side of a child).

May import: homework/ and the base. The sandbox copies only the public modules it names
(SANDBOX_FILES in sandbox/launch.py); this file is one of them, so it imports nothing.
"""
