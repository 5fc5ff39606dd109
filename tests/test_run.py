"""`infoline run` brings everything up, reports readiness, and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from infoline.nlu.server import RasaServer
from tests.support.net import ROOT

pytestmark = pytest.mark.nlu


async def test_run_reports_readiness_and_stops_on_sigterm(
    nlu_server: RasaServer, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "INFOLINE_NLU_URL": nlu_server.url,
        "INFOLINE_NLU_MANAGE": "false",
        "INFOLINE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'run.db'}",
    }
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).with_name("infoline")),
        "run",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    lines: list[str] = []
    while not lines or not lines[-1].startswith("Infoline running"):
        line = await asyncio.wait_for(process.stdout.readline(), 60)
        assert line, "infoline run ended early"
        lines.append(line.decode().strip())
    assert lines[0].startswith(f"NLU server ready at {nlu_server.url}")
    process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(process.wait(), 30) == 0
    assert (tmp_path / "run.db").exists()
