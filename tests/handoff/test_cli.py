"""`infoline consultant add|list|disable` as a person runs them."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from infoline.handoff import consultants
from infoline.store.db import open_database
from tests.support.net import ROOT

INFOLINE = Path(sys.executable).with_name("infoline")


def infoline(url: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "INFOLINE_DATABASE_URL": url, "INFOLINE_APP_LOG_LEVEL": "WARNING"}
    return subprocess.run(
        [str(INFOLINE), *args], input=stdin, capture_output=True, text=True, env=env, cwd=ROOT
    )


def test_consultant_commands(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    added = infoline(
        url,
        "consultant",
        "add",
        "anna",
        "--name",
        "Anna Kowalska",
        "--languages",
        "pl,uk",
        "--role",
        "supervisor",
        "--password-stdin",
        stdin="s3cret pass\n",
    )
    assert added.returncode == 0, added.stderr
    assert added.stdout == "added supervisor anna (pl, uk)\n"
    again = infoline(url, "consultant", "add", "anna", "--password-stdin", stdin="x\n")
    assert (
        again.returncode == 1
        and again.stderr == "infoline: There is already a consultant 'anna'.\n"
    )
    wrong = infoline(
        url, "consultant", "add", "bob", "--languages", "de", "--password-stdin", stdin="x\n"
    )
    assert wrong.returncode == 1 and "languages must be among pl, uk, ru, en" in wrong.stderr
    no_terminal = infoline(url, "consultant", "add", "bob")
    assert no_terminal.returncode == 1 and "--password-stdin" in no_terminal.stderr
    listed = infoline(url, "consultant", "list")
    assert listed.stdout == "anna\tAnna Kowalska\tsupervisor\tpl,uk\taway\n"
    assert infoline(url, "consultant", "disable", "anna").returncode == 0
    assert infoline(url, "consultant", "list").stdout.endswith("\tdisabled\n")
    missing = infoline(url, "consultant", "disable", "nobody")
    assert (
        missing.returncode == 1 and missing.stderr == "infoline: There is no consultant 'nobody'.\n"
    )

    async def signs_in(password: str) -> bool:
        async with open_database(url) as db:
            await consultants.enable(db, "anna", actor="test")
            return await consultants.authenticate(db, "anna", password) is not None

    assert asyncio.run(signs_in("s3cret pass")) and not asyncio.run(signs_in("s3cret pass\n"))
