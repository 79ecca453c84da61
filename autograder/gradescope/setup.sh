#!/usr/bin/env bash
# Gradescope runs this once, as root, in /autograder/source, when it builds the autograder image.
# It installs the kit's pinned requirements for the first python3 on PATH (the one run_autograder
# uses), bubblewrap when apt can, and the unprivileged user student code runs as; then it closes
# /autograder/source (the reference and the hidden checks) to everyone but root.
#
# Offline (as in the kit's own test) put a Python environment that already has requirements.lock
# first on PATH: pip then finds every pinned version installed and downloads nothing.
set -euo pipefail
cd "$(dirname "$0")"

python3 - <<'PY'
import sys
# numpy 2.4 (requirements.lock) needs Python 3.11 or newer.
if sys.version_info < (3, 11):
    sys.exit(f"setup.sh: {sys.executable} is Python {sys.version.split()[0]}; the kit needs 3.11 or newer: "
             "choose Gradescope's Ubuntu 24.04 base image, or put a newer python3 first on PATH")
PY

if ! python3 -m pip --version >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pip
fi
# Ubuntu's own python3 refuses pip installs without this (PEP 668); a virtual environment ignores it.
PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install --quiet --disable-pip-version-check --no-cache-dir \
  -r requirements.lock

# bubblewrap isolates student code further where the container allows user namespaces; without
# it, or where it cannot start, the runner says so and relies on the user and permissions below.
if ! command -v bwrap >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap) >/dev/null 2>&1 \
    || echo "setup.sh: note: bubblewrap could not be installed; student code will run under limits only"
fi

# The sandbox's seccomp filter needs libseccomp (present on Gradescope's Ubuntu images); no
# sandbox starts without it.
if ! python3 -c 'import ctypes; ctypes.CDLL("libseccomp.so.2")' 2>/dev/null; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libseccomp2) >/dev/null 2>&1 \
    || echo "setup.sh: note: libseccomp2 could not be installed; student code cannot be graded"
fi

user=$(python3 -c 'import json; print(json.load(open("gradescope.json"))["user"])')
if ! id -u "$user" >/dev/null 2>&1; then
  if ! useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$user"; then
    echo "setup.sh: note: could not create user $user; student code will run as nobody"
    user=nobody
  fi
fi

chown -R root:root /autograder/source
chmod 700 /autograder/source
echo "setup.sh: done ($(python3 --version), student code runs as $user)"
