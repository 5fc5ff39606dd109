"""The set-up scripts: finding Python 3.10 for Rasa, and saying clearly when there is none."""

from __future__ import annotations

import subprocess

from tests.support.net import ROOT

SCRIPT = str(ROOT / "scripts" / "python310")


def test_python310_is_found_through_pyenv() -> None:
    done = subprocess.run([SCRIPT], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    version = subprocess.run(
        [done.stdout.strip(), "--version"], capture_output=True, text=True, check=True
    )
    assert version.stdout.startswith("Python 3.10")


def test_missing_python310_is_one_clear_sentence() -> None:
    # No pyenv and no python3.10 on this PATH.
    env = {"PATH": "/nonexistent", "HOME": "/nonexistent"}
    done = subprocess.run(["/bin/sh", SCRIPT], capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("No Python 3.10 found") and done.stderr.count("\n") == 1
