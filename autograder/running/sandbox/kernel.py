"""Cells run as an IPython kernel runs them, in the sandboxed child, without a kernel.

A notebook's cells are IPython, not Python: magics (`%matplotlib inline`, `%%time`), shell escapes
(`!pip install ...`), `get_ipython()`, `display`, `In`/`Out`/`_`. IPython's own input transformer
turns a cell into Python (so a cell is accepted exactly where a kernel accepts it, and a syntax
error stays one); the code then runs against a small shell object that knows the magics a
homework plausibly uses. A full InteractiveShell is not used: it reads profiles and config files,
keeps a sqlite history, and its `%run`, `%load`, `%writefile` would read or write files for the
student. Here every magic is listed: the harmless ones run (timing magics run their code once)
or do nothing (display settings, `!cmd`, which cannot fork in the sandbox), those that would
reach files outside the notebook raise UsageError, as does an unknown magic, as in a kernel.

Nothing here judges anything, and it runs in the student's process: student code can change
all of it, and only itself is affected.
"""

import __future__

import ast
import builtins
import importlib
import inspect
import io
import linecache
import os
import sys
import time
import warnings

from IPython.core.error import StdinNotImplementedError, UsageError
from IPython.core.inputtransformer2 import TransformerManager
from IPython.utils.text import SList

# A `from __future__ import ...` in one cell holds for the later ones, as in IPython.
_FUTURE = 0
for _name in __future__.all_feature_names:
    _FUTURE |= getattr(__future__, _name).compiler_flag

EVENTS = ("pre_execute", "pre_run_cell", "post_execute", "post_run_cell", "shell_initialized")

# Magics that would read or write files for the student, or replay history: refused.
REFUSED = {"run", "load", "loadpy", "writefile", "file", "save", "logstart", "logon", "logoff", "logstop",
           "logstate", "history", "hist", "store", "edit", "ed", "macro", "recall", "rerun", "rep", "notebook",
           "bookmark", "alias", "unalias", "alias_magic", "rehashx", "pushd", "popd", "dhist", "pastebin",
           "code_wrap", "debug", "pdb"}
# Magics that only change what is displayed or printed, or ask for help: nothing to do here.
SILENT_LINE = {"xmode", "colors", "autocall", "automagic",
               "doctest_mode", "pinfo", "pinfo2", "pdoc", "pdef", "psource", "pfile", "lsmagic", "magic",
               "quickref", "page", "pprint", "who", "whos", "tb", "killbgscripts", "autoawait", "clear",
               "qtconsole", "connect_info", "less", "more", "man", "gui", "unload_ext"}
SILENT_CELL = {"html", "HTML", "javascript", "js", "latex", "markdown", "svg"}
# What would start a process (the sandbox allows none): `!cmd` in a kernel prints the command's
# output and the cell goes on; here it does nothing and the cell goes on.
SHELL_LINE = {"pip", "uv", "sx", "system", "ls", "cat", "cp", "mv", "rm", "mkdir", "rmdir", "ll", "lf", "lk",
              "lx", "ldir", "sc"}
# What %matplotlib accepts without a display (a GUI backend would fail on a grading machine too).
BACKENDS = {"", "inline", "notebook", "nbagg", "agg", "-l", "--list"}
# What `%config Name` may name (it prints that class's options); anything else needs `Class.trait = value`.
CONFIGURABLES = {"InlineBackend", "IPCompleter", "InteractiveShell", "ZMQInteractiveShell", "PlainTextFormatter",
                 "HistoryManager", "MagicsManager", "DisplayFormatter", "PrefilterManager", "ScriptMagics",
                 "StoreMagics", "LoggingMagics", "OSMagics", "IPKernelApp", "Completer", "BaseFormatter"}
SHELL_CELL = {"bash", "sh", "script", "system", "!", "perl", "ruby", "python", "python2", "python3", "pypy"}
# Extensions whose loading only sets up display or reloading, which have no effect here.
QUIET_EXTENSIONS = {"autoreload", "storemagic", "memory_profiler", "line_profiler", "rpy2.ipython"}


class Events:
    """get_ipython().events: callbacks registered by the student, run around each cell."""

    def __init__(self):
        self.callbacks: dict[str, list] = {name: [] for name in EVENTS}

    def register(self, event: str, function) -> None:
        if event not in self.callbacks:
            raise KeyError(f"Unknown event {event}")
        if not callable(function):
            raise TypeError(f"Need a callable, got {function!r}")
        if function not in self.callbacks[event]:
            self.callbacks[event].append(function)

    def unregister(self, event: str, function) -> None:
        try:
            self.callbacks[event].remove(function)
        except (KeyError, ValueError):
            raise ValueError(f"Function {function!r} is not registered as a {event} callback") from None

    def trigger(self, event: str, *args) -> None:
        for function in list(self.callbacks.get(event, ())):
            try:
                function(*args)
            except Exception:  # IPython prints "Error in callback" and goes on
                pass


class ExecutionResult:
    """What get_ipython().run_cell returns (the fields students read)."""

    def __init__(self, info=None):
        self.info, self.result = info, None
        self.error_before_exec = self.error_in_exec = None

    @property
    def success(self) -> bool:
        return self.error_before_exec is None and self.error_in_exec is None

    def raise_error(self) -> None:
        error = self.error_before_exec or self.error_in_exec
        if error is not None:
            raise error


class DisplayHandle:
    """display(..., display_id=True)'s handle: updates display nothing."""

    def __init__(self, display_id=None):
        self.display_id = display_id

    def display(self, *objs, **kwargs) -> None:
        pass

    def update(self, *objs, **kwargs) -> None:
        pass


class Captured:
    """What `%%capture name` keeps (IPython's CapturedIO: stdout, stderr, outputs; show())."""

    def __init__(self, stdout: str, stderr: str):
        self.stdout, self.stderr, self.outputs = stdout, stderr, []

    def show(self) -> None:
        sys.stdout.write(self.stdout)
        sys.stderr.write(self.stderr)

    __call__ = show


class Timing:
    """What `%timeit -o` returns (IPython's TimeitResult), for the one run made here."""

    def __init__(self, seconds: float):
        self.loops, self.repeat, self.compile_time = 1, 1, 0.0
        self.best = self.worst = self.average = seconds
        self.all_runs, self.timings, self.stdev = [seconds], [seconds], 0.0

    def __repr__(self) -> str:
        return f"<TimeitResult : {self.best * 1e6:.3g} µs per loop (1 run, 1 loop)>"


def display(*objs, display_id=None, **kwargs):
    """IPython's display(): in a kernel it sends the objects' representations to the notebook;
    here output goes nowhere, so nothing is computed (a kernel never fails a cell over it)."""
    return DisplayHandle(display_id) if display_id is not None else None


def _value(code, globals_: dict, locals_: dict | None = None):
    """Run compiled cell code; code with a top-level `await` runs to its end on an event loop of
    its own (a kernel runs it on its own loop)."""
    value = eval(code, globals_, locals_)
    if code.co_flags & inspect.CO_COROUTINE:
        import asyncio  # only for the rare cell that awaits

        value = asyncio.run(value)
    return value


def _semicolon(source: str) -> bool:
    """A cell ending in `;` shows and keeps no result (a comment after it aside)."""
    last = source.rstrip().rsplit("\n", 1)[-1]
    return last.split("#", 1)[0].rstrip().endswith(";") if "#" in last else last.endswith(";")


def _options(line: str, flags: str) -> tuple[dict, str]:
    """getopt-style options at the start of a magic's line ("n:r:q": -n and -r take a value);
    returns ({flag: value or ""}, the rest of the line untouched)."""
    found: dict[str, str] = {}
    rest = line.lstrip()
    while rest.startswith("-") and len(rest) > 1 and rest[1] in flags.replace(":", ""):
        flag = rest[1]
        takes = flags[flags.index(flag) + 1: flags.index(flag) + 2] == ":"
        token, _, after = rest.partition(" ")
        if takes:
            value = token[2:]
            if not value:
                value, _, after = after.lstrip().partition(" ")
            found[flag] = value
        elif len(token) > 2:  # grouped flags: -qo
            found[flag] = ""
            after = f"-{token[2:]} {after}"
        else:
            found[flag] = ""
        rest = after.lstrip()
    return found, rest


class ZMQInteractiveShell:
    """What get_ipython() returns in the sandbox: the parts of a kernel's shell a notebook uses.

    Named as ipykernel's shell is, since notebooks test the class name to know they run in
    Jupyter (and would then, say, plot rather than print)."""

    def __init__(self, namespace: dict, transformer: TransformerManager):
        self.user_ns = namespace
        self.transformer = transformer
        self.events = Events()
        self.execution_count = 1
        self.config = {"IPKernelApp": {}}
        self.kernel = None
        self.custom_exceptions: tuple = ()
        self.magics = {"line": {}, "cell": {}}
        self._flags = 0
        self._precision = "%r"
        self.hidden = set()
        self.extensions: set[str] = set()

    # -- the namespace -------------------------------------------------------------------------
    @property
    def user_global_ns(self) -> dict:
        return self.user_ns

    def start(self) -> None:
        """Put the names a kernel's namespace starts with into user_ns (and its builtins)."""
        ns = self.user_ns
        history: list[str] = [""]
        ns.update({"get_ipython": self.get_ipython, "In": history, "_ih": history, "Out": {}, "_oh": None,
                   "_dh": [os.getcwd()], "_": "", "__": "", "___": "", "_i": "", "_ii": "", "_iii": ""})
        ns["_oh"] = ns["Out"]
        self.hidden = set(ns)
        builtins.get_ipython = self.get_ipython
        builtins.display = display
        builtins.__IPYTHON__ = True

    def get_ipython(self):
        return self

    def push(self, variables, interactive: bool = True) -> None:
        if isinstance(variables, str):
            frame = sys._getframe(1)
            names = variables.replace(",", " ").split()
            variables = {name: eval(name, frame.f_globals, frame.f_locals) for name in names}
        self.user_ns.update(variables)

    def ev(self, expr: str):
        return eval(expr, self.user_ns)

    def ex(self, cmd: str) -> None:
        exec(cmd, self.user_ns)

    def set_custom_exc(self, exc_tuple, handler) -> None:
        # Kept, never called: an error is the cell's error whatever the student's handler says.
        self.custom_exceptions = tuple(exc_tuple)

    def showtraceback(self, *args, **kwargs) -> None:
        pass

    def ask_yes_no(self, prompt, default=None, interrupt=None):
        raise StdinNotImplementedError("raw_input was called, but this frontend does not support input requests.")

    # -- running cells -------------------------------------------------------------------------
    def transform_cell(self, source: str) -> str:
        return self.transformer.transform_cell(source)

    def compile_cell(self, source: str, filename: str):
        """(code of the cell without its last expression, code of that expression or None).

        Plain Python (almost every cell) is compiled as it is, which is what IPython's
        transformer would leave it as; only a cell that is not Python is transformed."""
        try:
            return self._split(source, filename)
        except SyntaxError:
            return self._split(self.transform_cell(source), filename)

    def _split(self, source: str, filename: str):
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        start = _last_statement(source)
        if start is not None and not _semicolon(source) and not source.startswith(_STATEMENTS, start):
            head, tail = source[:start], source[start:]
            try:
                last = self._compile("\n" * head.count("\n") + tail, filename, "eval")
                return self._compile(head, filename, "exec"), last
            except SyntaxError:
                pass
        return self._compile(source, filename, "exec"), None

    def _compile(self, source: str, filename: str, mode: str):
        # Top-level `await` is allowed, as in a kernel (the code then makes a coroutine: _value).
        flags = self._flags | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
        code = _compiled(source, filename, mode, flags)
        if code is None:
            code = compile(source, filename, mode, flags, dont_inherit=True)
        self._flags |= code.co_flags & _FUTURE
        return code

    def run(self, source: str, label: str):
        """Run one cell in user_ns, as a kernel would; raises what the cell raised."""
        count = self.execution_count
        self.execution_count += 1
        ns = self.user_ns
        self.events.trigger("pre_execute")
        self.events.trigger("pre_run_cell", None)
        result = ExecutionResult()
        self._record_input(count, source)
        try:
            body, last = self.compile_cell(source, _filename(label))
            _value(body, ns)
            value = _value(last, ns) if last is not None else None
            self._record_output(count, value)
            result.result = value
        except BaseException as exc:
            result.error_in_exec = exc
            raise
        finally:
            self.events.trigger("post_execute")
            self.events.trigger("post_run_cell", result)
        return value

    def _record_input(self, count: int, source: str) -> None:
        """In, _i, _ii, _iii, _i<n>: kept before the cell runs, as IPython does."""
        ns = self.user_ns
        history = ns.get("In")
        if isinstance(history, list):
            history.append(source)
        ns["_iii"], ns["_ii"], ns["_i"] = ns.get("_ii", ""), ns.get("_i", ""), source
        ns[f"_i{count}"] = source

    def _record_output(self, count: int, value) -> None:
        """Out, _, __, ___, _<n>: the value of a cell's final expression, unless None."""
        ns = self.user_ns
        if value is not None:
            out = ns.get("Out")
            if isinstance(out, dict):
                out[count] = value
            ns["___"], ns["__"], ns["_"] = ns.get("__", ""), ns.get("_", ""), value
            ns[f"_{count}"] = value

    def run_cell(self, raw_cell: str, store_history: bool = False, silent: bool = False, **kwargs) -> ExecutionResult:
        """get_ipython().run_cell: errors are caught and returned, as IPython does."""
        result = ExecutionResult(raw_cell)
        try:
            result.result = self.run(raw_cell, f"cell-{self.execution_count}")
        except Exception as exc:  # not the time limit's TimeLimitExceeded, a BaseException
            result.error_in_exec = exc
        return result

    def _run_code(self, source: str, filename: str, local_ns: dict | None = None):
        """Run transformed code in user_ns; the value of a final expression, or None."""
        body, last = self._split(self.transform_cell(source), filename)
        _value(body, self.user_ns, local_ns)
        return _value(last, self.user_ns, local_ns) if last is not None else None

    # -- magics --------------------------------------------------------------------------------
    def register_magic_function(self, func, magic_kind: str = "line", magic_name: str | None = None) -> None:
        kinds = ("line", "cell") if magic_kind == "line_cell" else (magic_kind,)
        for kind in kinds:
            if kind not in self.magics:
                raise ValueError(f"magic_kind must be one of line, cell, line_cell, not {magic_kind!r}")
            self.magics[kind][magic_name or func.__name__] = func

    def find_line_magic(self, name: str):
        if name in ("autoreload", "aimport") and "autoreload" not in self.extensions:
            return None
        return self.magics["line"].get(name) or (
            getattr(self, f"_line_{name}", None) or (_known if name in _LINE_KNOWN else None))

    def find_cell_magic(self, name: str):
        return self.magics["cell"].get(name) or (
            getattr(self, f"_cell_{name}", None) or (_known if name in _CELL_KNOWN else None))

    def find_magic(self, name: str, magic_kind: str = "line"):
        return self.find_cell_magic(name) if magic_kind == "cell" else self.find_line_magic(name)

    def run_line_magic(self, magic_name: str, line: str, _stack_depth: int = 1):
        own = self.magics["line"].get(magic_name)
        if own is not None:
            return own(line)
        if magic_name in REFUSED:
            raise UsageError(f"%{magic_name} is not run by the grader (it reads or writes files outside the "
                             "notebook): put that code in the notebook's cells")
        method = getattr(self, f"_line_{magic_name}", None)
        if method is not None:
            frame = sys._getframe(_stack_depth)
            local_ns = frame.f_locals if frame.f_locals is not frame.f_globals else None
            return method(line, local_ns)
        if magic_name in SILENT_LINE or magic_name in SHELL_LINE:
            return SList() if magic_name in ("sx", "system") else None
        if magic_name == "autoreload" and "autoreload" in self.extensions:
            return None
        if magic_name == "aimport" and "autoreload" in self.extensions:  # imports, as the kernel's does
            for name in line.replace(",", " ").split():
                if not name.startswith("-"):
                    module = importlib.import_module(name)
                    self.user_ns[name.split(".")[0]] = sys.modules[name.split(".")[0]] if "." in name else module
            return None
        if magic_name in ("conda", "mamba", "micromamba"):
            raise ValueError("The python kernel does not appear to be a conda environment.  "
                             "Please use ``%pip install`` instead.")
        extra = f" (But cell magic `%%{magic_name}` exists, did you mean that instead?)" \
            if self.find_cell_magic(magic_name) else ""
        raise UsageError(f"Line magic function `%{magic_name}` not found{extra}.")

    def run_cell_magic(self, magic_name: str, line: str, cell: str):
        own = self.magics["cell"].get(magic_name)
        if own is not None:
            return own(line, cell)
        if magic_name in REFUSED:
            raise UsageError(f"%%{magic_name} is not run by the grader (it reads or writes files outside the "
                             "notebook): put that code in the notebook's cells")
        method = getattr(self, f"_cell_{magic_name}", None)
        known = method is not None or magic_name in SILENT_CELL or magic_name in SHELL_CELL
        if not known:
            extra = f" (But line magic `%{magic_name}` exists, did you mean that instead?)" \
                if self.find_line_magic(magic_name) else ""
            raise UsageError(f"Cell magic `%%{magic_name}` not found{extra}.")
        if cell == "":
            also = f" Did you mean the line magic %{magic_name} (single %)?" if self.find_line_magic(magic_name) else ""
            raise UsageError(f"%%{magic_name} is a cell magic, but the cell body is empty.{also}")
        return method(line, cell) if method is not None else None

    def system(self, cmd: str) -> None:
        self.user_ns["_exit_code"] = 0

    system_piped = system_raw = system

    def getoutput(self, cmd: str, split: bool = True, depth: int = 0):
        return SList() if split else ""

    # Each _line_<name> / _cell_<name> implements a magic the way IPython's does, minus output.
    def _line_time(self, line: str, local_ns: dict | None = None):
        return self._timed(line, None, local_ns)

    def _cell_time(self, line: str, cell: str):
        if line.strip():
            raise UsageError("Can't use statement directly after '%%time'!")
        return self._timed(cell, None, None)

    def _timed(self, source: str, _unused, local_ns: dict | None):
        wall, cpu = time.perf_counter(), time.process_time()
        value = self._run_code(source, "<timed exec>", local_ns)
        print(f"CPU times: total: {(time.process_time() - cpu) * 1e3:.3g} ms")
        print(f"Wall time: {(time.perf_counter() - wall) * 1e3:.3g} ms")
        return value

    def _line_timeit(self, line: str, local_ns: dict | None = None):
        return self._timeit(line, None, local_ns)

    def _cell_timeit(self, line: str, cell: str):
        return self._timeit(line, cell, None)

    def _timeit(self, line: str, cell: str | None, local_ns: dict | None):
        """Runs the statement once (a kernel runs it many times), in a function of its own as
        IPython does, so its assignments stay local to it."""
        opts, stmt = _options(line, "n:r:tcp:qov:")
        if not stmt.strip() and cell is None:
            return None
        setup, body = ("pass", stmt) if cell is None else (stmt or "pass", cell)
        inner = ast.parse("def __timeit_inner():\n    pass\n")
        statements = ast.parse(self.transform_cell(setup)).body + ast.parse(self.transform_cell(body)).body
        inner.body[0].body = statements or [ast.Pass()]
        code = compile(ast.fix_missing_locations(inner), "<magic-timeit>", "exec", self._flags, dont_inherit=True)
        scope: dict = {}
        globals_ = dict(self.user_ns, **local_ns) if local_ns else self.user_ns
        exec(code, globals_, scope)
        start = time.perf_counter()
        scope["__timeit_inner"]()
        took = time.perf_counter() - start
        result = Timing(took)
        if "v" in opts:
            self.user_ns[opts["v"]] = result
        return result if "o" in opts else None

    def _cell_capture(self, line: str, cell: str):
        words = line.split()
        flags = {w for w in words if w.startswith("--")}
        unknown = flags - {"--no-stderr", "--no-stdout", "--no-display"}
        if unknown or len(words) - len(flags) > 1:
            raise UsageError(f"unrecognized arguments: {line}")
        name = next((w for w in words if not w.startswith("--")), None)
        out, err = io.StringIO(), io.StringIO()
        saved = sys.stdout, sys.stderr
        if "--no-stdout" not in flags:
            sys.stdout = out
        if "--no-stderr" not in flags:
            sys.stderr = err
        try:
            self.run_cell(cell)  # an error stops the body, not the cell, as in IPython
        finally:
            sys.stdout, sys.stderr = saved
        if _semicolon(cell):
            self.user_ns.pop(name, None)
        elif name:
            self.user_ns[name] = Captured(out.getvalue(), err.getvalue())

    def _cell_prun(self, line: str, cell: str):
        return self._run_code(cell, "<prun>")

    def _line_prun(self, line: str, local_ns: dict | None = None):
        _, stmt = _options(line, "D:l:rs:T:q")
        return self._run_code(stmt, "<prun>", local_ns)

    def _line_precision(self, line: str, local_ns: dict | None = None) -> str:
        text = line.strip()
        if "%" in text:
            try:
                text % 3.14159
            except Exception as exc:
                raise ValueError(f"Precision must be int or format string, not {text!r}") from exc
            fmt = text
        elif text:
            try:
                digits = int(text)
                assert digits >= 0
            except (ValueError, AssertionError) as exc:
                raise ValueError(f"Precision must be int or format string, not {text!r}") from exc
            fmt = f"%.{digits}f"
            if "numpy" in sys.modules:
                sys.modules["numpy"].set_printoptions(precision=digits)
        else:
            fmt = "%r"
            if "numpy" in sys.modules:
                sys.modules["numpy"].set_printoptions(precision=8)
        self._precision = fmt
        return fmt

    def _line_who_ls(self, line: str, local_ns: dict | None = None) -> list[str]:
        return sorted(n for n in self.user_ns if not n.startswith("_") and n not in self.hidden)

    def _line_env(self, line: str, local_ns: dict | None = None):
        # The child's own environment, which its Python code can read and change anyway.
        text = line.strip()
        if not text:
            return dict(os.environ)
        if "=" in text or " " in text:
            key, _, value = text.partition("=") if "=" in text else text.partition(" ")
            os.environ[key.strip()] = value.strip()
            return None
        if text not in os.environ:
            raise UsageError(f"Environment does not have key: {text}")
        return os.environ[text]

    def _line_pwd(self, line: str, local_ns: dict | None = None) -> str:
        return os.getcwd()

    def _line_cd(self, line: str, local_ns: dict | None = None) -> None:
        os.chdir(os.path.expanduser(line.strip() or "~"))

    def _line_reset(self, line: str, local_ns: dict | None = None) -> None:
        if "-f" not in line.split():
            self.ask_yes_no("Once deleted, variables cannot be recovered. Proceed (y/[n])?")
        for name in [n for n in self.user_ns if n not in self.hidden and not n.startswith("__")]:
            del self.user_ns[name]

    def _line_pylab(self, line: str, local_ns: dict | None = None) -> None:
        exec("import numpy\nimport matplotlib\nfrom matplotlib import pylab, mlab, pyplot\nnp = numpy\n"
             "plt = pyplot\nfrom pylab import *\nfrom numpy import *\n", self.user_ns)

    def _line_matplotlib(self, line: str, local_ns: dict | None = None) -> None:
        backend = line.strip()
        if backend not in BACKENDS:
            raise RuntimeError(f"'{backend}' is not a recognised GUI loop or backend name")

    def _line_config(self, line: str, local_ns: dict | None = None) -> None:
        text = line.strip()
        if text and "=" not in text and text not in CONFIGURABLES:
            raise UsageError(f"Invalid config statement: {text!r}, should be `Class.trait = value`.")

    def _line_load_ext(self, line: str, local_ns: dict | None = None) -> None:
        name = line.strip()
        if not name:
            raise UsageError("Missing module name.")
        if name not in QUIET_EXTENSIONS:
            module = importlib.import_module(name)  # an extension not installed fails as in a kernel
            load = getattr(module, "load_ipython_extension", None)
            if load is not None:
                load(self)
        self.extensions.add(name)

    _line_reload_ext = _line_load_ext  # loads it when it is not loaded yet, as IPython's does


_LINE_KNOWN = SILENT_LINE | SHELL_LINE | REFUSED
_CELL_KNOWN = SILENT_CELL | SHELL_CELL | {"writefile", "file"}


def _known(*args, **kwargs):
    """find_*_magic's answer for a magic that exists but is handled in run_*_magic."""
    return None


# A top-level line starting with one of these is no expression (a cheap test before compiling one).
_STATEMENTS = ("def ", "class ", "for ", "while ", "if ", "with ", "try:", "import ", "from ", "return", "async ",
               "@", "del ", "pass", "raise", "global ", "nonlocal ", "assert ", "break", "continue", "match ")


def _last_statement(source: str) -> int | None:
    """Where the cell's last top-level statement starts (the last line at column 0 that begins
    a statement), or None; a guess checked by compiling it as an expression."""
    end = len(source.rstrip())
    while end > 0:
        start = source.rfind("\n", 0, end) + 1
        line = source[start:end]
        first = line[:1]
        if first and not first.isspace() and first not in "#)]}" and not line.startswith(("else", "elif", "except",
                                                                                           "finally", "case")):
            return start
        end = start - 1
    return None


def _filename(label: str) -> str:
    """The file name a cell's code (its tracebacks, linecache) has."""
    return f"<{label}>"


# The zygote's compilation of the cells every submission runs (the source notebook's given cells),
# done once before any fork: (source, filename, mode, flags) -> what compile() gave, a code object
# or _FAILED (a SyntaxError, kept only for the trial compilation of a last expression, whose
# failure _split swallows). A child takes each out as it runs the cell (a second compilation of
# the same text compiles anew); its copy of the table is its own, like everything it changes.
_COMPILED: dict[tuple[str, str, str, int], object] = {}
_FAILED = object()
# Compilation uses the recursion limit (3.11's symtable and AST optimiser): the zygote compiles
# with this much of it left, and a child uses a result only with at least twice as much left
# (the other half for C-level calls a frame count misses), so where the zygote succeeded the
# child's compile() would have too, and would have given the same code.
_HEADROOM = 200


def _depth() -> int:
    frame, depth = sys._getframe(1), 0
    while frame is not None:
        frame, depth = frame.f_back, depth + 1
    return depth


def _compiled(source: str, filename: str, mode: str, flags: int):
    """The zygote's code for this compile() call, or None: compile it here."""
    if not _COMPILED:
        return None
    key = (source, filename, mode, flags)
    if key not in _COMPILED or sys.getrecursionlimit() - _depth() < 2 * _HEADROOM:
        return None
    code = _COMPILED.pop(key)
    sys.audit("compile", source, filename)  # what compile() itself raises, for the student's audit hooks
    if code is _FAILED:
        raise SyntaxError("invalid syntax", (filename, 1, 1, source.splitlines()[0] if source else ""))
    return code


class _Precompiler(ZMQInteractiveShell):
    """A shell that only compiles, keeping each compile() result that depends on nothing a child
    can change: no warning was raised (a child may have made warnings errors) and no other error."""

    def _compile(self, source: str, filename: str, mode: str):
        flags = self._flags | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
        key = (source, filename, mode, flags)
        limit = sys.getrecursionlimit()
        with warnings.catch_warnings(record=True) as raised:
            warnings.simplefilter("always")
            sys.setrecursionlimit(_depth() + _HEADROOM)
            try:
                code = compile(source, filename, mode, flags, dont_inherit=True)
            except SyntaxError:
                if not raised and mode == "eval":
                    _COMPILED[key] = _FAILED
                raise
            finally:
                sys.setrecursionlimit(limit)
        if not raised:
            _COMPILED[key] = code
        self._flags |= code.co_flags & _FUTURE
        return code


_PRECOMPILER: _Precompiler | None = None


def precompile(cells: list[tuple[str, str]]) -> int:
    """Compile `cells` ((label, source), in the order a child runs them, carrying `__future__`
    flags from one to the next as it does, across calls too) the way a child's shell would, and
    keep the results for every later child (in the zygote, before any fork). Returns how many
    pieces are kept.
    A cell that does not compile is left to each child, which gets its error itself."""
    global _PRECOMPILER
    if _PRECOMPILER is None:
        _PRECOMPILER = _Precompiler({}, TRANSFORMER)
    shell = _PRECOMPILER
    for label, source in cells:
        try:
            shell.compile_cell(source, _filename(label))
        except Exception:  # any failure: each child compiles that cell itself, and meets it
            pass
        linecache.cache.pop(_filename(label), None)  # each child's cell puts it there as it runs
    return len(_COMPILED)


TRANSFORMER = TransformerManager()  # made once in the zygote, shared by every child
SHELL: ZMQInteractiveShell | None = None


def start(namespace: dict) -> ZMQInteractiveShell:
    """The child's shell over `namespace`; IPython's own get_ipython() and display() answer
    with it too (a notebook may import them from IPython)."""
    global SHELL
    SHELL = ZMQInteractiveShell(namespace, TRANSFORMER)
    SHELL.start()
    return SHELL


def current():
    """IPython.get_ipython() in the sandbox."""
    return SHELL


def patch_ipython() -> None:
    """Point IPython's public get_ipython and display at this module's (done once, in the zygote)."""
    import IPython
    import IPython.core.display_functions
    import IPython.core.getipython
    import IPython.display

    for module in (IPython, IPython.core.getipython):
        module.get_ipython = current
    for module in (IPython, IPython.display, IPython.core.display_functions):
        module.display = display
