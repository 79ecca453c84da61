# Two commands from a fresh clone: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test setup sandbox browser notebook release lint

setup: $(STAMP) sandbox

# The kit's grader isolates student code with bubblewrap (Debian package `bubblewrap`). Installed
# here when missing and we may (root); otherwise the grader falls back, loudly, to resource limits.
# Its seccomp filter needs libseccomp (`libseccomp2`): without it no sandbox starts at all.
sandbox:
	@command -v bwrap >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap) >/dev/null; \
	  else echo "note: bubblewrap is not installed; run: sudo apt-get install bubblewrap"; fi; }
	@$(PYTHON) -c 'import ctypes; ctypes.CDLL("libseccomp.so.2")' 2>/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libseccomp2) >/dev/null; \
	  else echo "note: libseccomp is not installed; run: sudo apt-get install libseccomp2"; fi; }

# Recreated only when the pinned requirements or the package metadata change.
$(STAMP): requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

notebook: setup
	$(PY) -m autograder build

release: setup
	$(PY) -m autograder release

# The feedback page's browser test renders it in headless Chromium (Debian package `chromium`).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null; \
	  else echo "note: chromium is not installed; run: sudo apt-get install chromium"; fi; }

demo: setup
	$(PY) -m autograder demo

test: setup browser
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
