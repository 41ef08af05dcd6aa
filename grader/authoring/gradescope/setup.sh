#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image, with this
# bundle unpacked in $AUTOGRADER_ROOT/source (AUTOGRADER_ROOT: /autograder unless set).
# It installs memcached, bubblewrap (the wall around student code) and iproute2 when
# missing, and the grader into source/.venv.
#
# Python: the grader needs 3.11 or newer. Gradescope's default base image is Ubuntu
# 22.04, whose python3 is 3.10; the older images still on offer (18.04, 20.04) have 3.6
# and 3.8; an image variant with a newer Python is a choice made in Gradescope's form,
# which a bundle cannot count on. So a Python 3.11+ already on the image is used when
# there is one (Ubuntu 24.04's 3.12, a variant's); otherwise uv, a single static
# binary, installs a standalone CPython build that runs on every one of those images.
# Not deadsnakes: its PPA is built only for Ubuntu releases still supported and needs
# add-apt-repository; not the archive's python3.11: 22.04 has only a pre-release build
# of it, and the older releases none.
set -euo pipefail
root=${AUTOGRADER_ROOT:-/autograder}
cd "$root/source"
UV_VERSION=0.9.26  # pinned: the same build of the autograder every time

say() { printf 'setup: %s\n' "$*" >&2; }
export DEBIAN_FRONTEND=noninteractive
updated=""
apt_install() {
  if [ -z "$updated" ]; then apt-get update -q; updated=1; fi
  apt-get install -y -q --no-install-recommends "$@"
}

command -v memcached >/dev/null 2>&1 || apt_install memcached
PATH="$PATH:/usr/sbin:/sbin" command -v ip >/dev/null 2>&1 || apt_install iproute2
# Student code runs behind bubblewrap's wall, on a loopback of its own (grader/wall.py, grader/lockdown.py).
command -v bwrap >/dev/null 2>&1 || apt_install bubblewrap

new_venv() { rm -rf .venv && "$1" -m venv .venv >/dev/null 2>&1; }

python=""
for candidate in python3.13 python3.12 python3.11 python3; do
  if command -v "$candidate" >/dev/null 2>&1 \
     && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    python=$(command -v "$candidate")
    break
  fi
done
if [ -n "$python" ] && ! new_venv "$python"; then
  # Debian and Ubuntu ship venv's ensurepip apart from the interpreter.
  version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  apt_install "python$version-venv" || true
  new_venv "$python" || python=""
fi
if [ -z "$python" ]; then
  say "no Python 3.11 or newer with venv here: installing CPython 3.12 with uv $UV_VERSION"
  command -v curl >/dev/null 2>&1 || apt_install curl ca-certificates
  curl -LsSf "https://astral.sh/uv/$UV_VERSION/install.sh" | env UV_UNMANAGED_INSTALL="$root/uv" sh
  # Under $root rather than root's home, which another user may not be allowed to read.
  export UV_PYTHON_INSTALL_DIR="$root/python"
  rm -rf .venv
  "$root/uv/uv" venv --seed --python 3.12 .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e .
say "ready: $(.venv/bin/python --version), $(memcached -V)"
