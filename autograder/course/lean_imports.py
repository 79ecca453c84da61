"""Import only what grading needs: third-party import-time costs a grader never uses.

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
- nbgrader's gradebook and course directory import, for what they use only on rare paths,
  `setuptools.archive_util` (unzipping an exchange upload; ~0.1 s, all of setuptools),
  `tornado.log` (a log formatter, the logger of a database error; ~0.1 s, with asyncio) and
  `requests` (the JupyterHub authenticator; ~80 ms). Imported by import_nbgrader, each name
  they take from those modules stands in for its object, imported the first time it is used.

lean_imports does the first two. They only apply when nothing has imported the module yet (call
it before anything else), and only in the process that calls it (the `grade` command; its forked
workers inherit it).
"""

import importlib
import importlib.util
import sys
import types

FORMAT_ONLY = ("rfc3987_syntax", "isoduration")  # imported by jsonschema for string formats only
# What nbgrader's gradebook and course directory import with `from ... import name` and use late.
DEFERRED = ("setuptools.archive_util", "tornado.log", "requests")


def _real(name: str) -> types.ModuleType:
    """The module itself, imported now in place of its stand-in."""
    if isinstance(sys.modules.get(name), _Deferred):
        del sys.modules[name]
    return importlib.import_module(name)


class _Forward:
    """A name imported from a deferred module: the real object, looked up when first used."""

    def __init__(self, module: str, name: str):
        self._module, self._name = module, name

    def _target(self):
        return getattr(_real(self._module), self._name)

    def __call__(self, *args, **kwargs):
        return self._target()(*args, **kwargs)

    def __getattr__(self, attr: str):
        return getattr(self._target(), attr)


class _Deferred(types.ModuleType):
    """A stand-in for a module whose names are imported early and used late (DEFERRED)."""

    def __getattr__(self, attr: str):
        if attr.startswith("__"):
            raise AttributeError(attr)
        return _Forward(self.__name__, attr)


def lean_imports() -> None:
    """Skip the costs above in this process, when it has not imported those modules yet."""
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


def import_nbgrader() -> None:
    """Import nbgrader's gradebook API and course directory with the DEFERRED modules stood in;
    the stand-ins are gone again after, so that anything importing those modules later (Dask's
    distributed imports tornado) gets the real ones."""
    placed = [name for name in DEFERRED if name not in sys.modules and name.split(".")[0] not in sys.modules]
    for name in placed:
        sys.modules[name] = _Deferred(name)
    try:
        import nbgrader.api  # noqa: F401
        import nbgrader.coursedir  # noqa: F401
    finally:
        for name in placed:
            if isinstance(sys.modules.get(name), _Deferred):
                del sys.modules[name]
