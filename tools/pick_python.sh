#!/bin/sh
# The Python that `make` builds the venv with: the one asked for (PYTHON, default python3)
# when MediaPipe 0.10.21 supports it (3.10-3.12: the last release with the Holistic
# solution has no wheels for 3.13+), else the first of python3.12, python3.11, python3.10
# on PATH, saying so on stderr. With none, one line says why and how to get one, and the
# exit status is 1.
#
#   sh tools/pick_python.sh [PYTHON]          prints the interpreter to use
#   sh tools/pick_python.sh --check PYTHON    exit status only: is it supported?

supported() {
    "$1" -c 'import sys; sys.exit(not (3, 10) <= sys.version_info[:2] <= (3, 12))' >/dev/null 2>&1
}

describe() {
    version=$("$1" -c 'import platform; print(platform.python_version())' 2>/dev/null)
    if [ -n "$version" ]; then echo "$1 is Python $version"; else echo "$1 is not found"; fi
}

if [ "$1" = "--check" ]; then
    supported "$2"
    exit $?
fi

want="${1:-python3}"
if supported "$want"; then
    echo "$want"
    exit 0
fi
for candidate in python3.12 python3.11 python3.10; do
    if command -v "$candidate" >/dev/null 2>&1 && supported "$candidate"; then
        echo "signpose: $(describe "$want"), which MediaPipe 0.10.21 (Holistic) does not support; using $(describe "$candidate" | sed 's/ is / (/'))" >&2
        echo "$candidate"
        exit 0
    fi
done
echo "signpose: error: $(describe "$want") and no python3.12, python3.11 or python3.10 is on PATH; MediaPipe 0.10.21, the last release with the Holistic solution signpose uses, has wheels for Python 3.10-3.12 only: install one (apt install python3.12-venv, pyenv install 3.12, or uv python install 3.12) and run make PYTHON=python3.12 (docs/guide.md, 'Python versions')" >&2
exit 1
