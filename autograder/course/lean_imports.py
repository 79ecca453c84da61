"""Import only what grading needs: two third-party import-time costs a grader never uses.

- jsonschema (which nbformat loads to validate notebooks) imports the optional `rfc3987_syntax`
  when it is installed, and that compiles 39 lark grammars (~0.9 s) for the "iri" string formats;
  `isoduration` (with `arrow`, ~40 ms) serves the "duration" format. nbformat's notebook schema
  uses no such format, and jsonschema only checks formats when asked: marking these modules
  absent changes no validation nbformat does.
- `import nbgrader` (the package's __init__, run before any `nbgrader.api` or
  `nbgrader.coursedir`) imports its Jupyter server extensions (tornado handlers, jupyter_server,
  the exchange, nbconvert): ~0.6 s. The grader uses only the gradebook API, the course directory
  and the late-penalty plugins, which are plain submodules; a package shell with nbgrader's own
  search path loads them without that __init__.

Both only apply when nothing has imported the module yet (call this before anything else), and
only in the process that calls it (the `grade` command; its forked workers inherit it).
"""

import importlib.util
import sys
import types

FORMAT_ONLY = ("rfc3987_syntax", "isoduration")  # imported by jsonschema for string formats only


def lean_imports() -> None:
    """Skip the two costs above in this process, when it has not imported those modules yet."""
    if "jsonschema" not in sys.modules:
        for name in FORMAT_ONLY:
            sys.modules.setdefault(name, None)  # None: `import name` raises ImportError
    if "nbgrader" not in sys.modules:
        found = importlib.util.find_spec("nbgrader")
        if found is None or not found.submodule_search_locations:
            return  # not installed: the grader's own import reports it where it is needed
        shell = types.ModuleType("nbgrader", "nbgrader's submodules, without its server extensions")
        shell.__path__ = list(found.submodule_search_locations)
        shell.__file__, shell.__spec__ = found.origin, found
        sys.modules["nbgrader"] = shell
        from nbgrader._version import __version__

        shell.__version__ = __version__
