#!/usr/bin/env bash
# One-time (and idempotent) set-up of a course checkout on Debian or Ubuntu:
# memcached, bubblewrap (and iproute2) from apt when missing, then a virtual environment in .venv
# with this project installed in it (editable, with the dev, notebooks and report extras),
# and, for the dev extras only, Debian's chromium when missing (the report's self-test opens
# the page in it; without it that test is skipped and says why).
#
# Run it as root, or as a user who may use sudo for apt-get. Afterwards
# .venv/bin/grader and .venv/bin/pytest are ready to use.
set -euo pipefail
cd "$(dirname "$0")"

say() { printf 'setup: %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else say "need root to run: $* (run this script as root, or install sudo)"; return 1
  fi
}

apt_install() {
  command -v apt-get >/dev/null 2>&1 || { say "no apt-get here: install $* with your package manager"; return 1; }
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get install -y -q "$@" >/dev/null 2>&1 \
    || { as_root apt-get update -q >/dev/null && as_root apt-get install -y -q "$@" >/dev/null; }
}

PYTHON=${PYTHON:-python3}
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { say "Python 3.11 or newer is needed ($PYTHON is $("$PYTHON" --version 2>&1))"; exit 1; }

if ! command -v memcached >/dev/null 2>&1; then
  say "installing memcached"
  apt_install memcached
fi

# The keepalive tests switch a network namespace's loopback off with iproute2's ip;
# without it, that one test is reported as not run.
if ! PATH="$PATH:/usr/sbin:/sbin" command -v ip >/dev/null 2>&1; then
  say "installing iproute2"
  apt_install iproute2 || say "no iproute2: the keepalive dead-peer test will be reported as not run"
fi

if [ ! -x .venv/bin/python ]; then
  if ! "$PYTHON" -m venv .venv >/dev/null 2>&1; then
    say "installing python3-venv"
    rm -rf .venv
    apt_install python3-venv
    "$PYTHON" -m venv .venv
  fi
fi

# Student code runs behind a wall that bubblewrap builds (see grader/wall.py): grading
# refuses without it (unless told --unsealed).
if ! command -v bwrap >/dev/null 2>&1; then
  say "installing bubblewrap (the sandbox around student code)"
  apt_install bubblewrap || say "no bubblewrap: grading will refuse to run student code (see docs/instructors.md)"
fi

# Reinstall only when the project's metadata changed since the last install.
stamp=.venv/.installed-pyproject
# SETUP_EXTRAS= (empty) installs only what grading needs: the grading workflow's jobs do.
extras=${SETUP_EXTRAS-dev,notebooks,report}
had=$(cat .venv/.installed-extras 2>/dev/null || echo dev,notebooks)

# The self-tests open `grader report`'s page in a real browser: Debian's chromium, for a
# developer's or CI's checkout (the dev extras) only, never for grading. Its test is skipped,
# saying why, where it cannot be installed.
case ",$extras," in
  *,dev,*)
    if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
      say "installing chromium (for the report's self-test)"
      apt_install chromium || say "no chromium: the report's browser test will be skipped"
    fi ;;
esac
if ! cmp -s pyproject.toml "$stamp" || [ "$had" != "$extras" ]; then
  say "installing the project into .venv${extras:+ (with $extras)}"
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".${extras:+[$extras]}"
  cp pyproject.toml "$stamp"
  echo "$extras" > .venv/.installed-extras
fi
