"""Small helpers for tests that run servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent.parent
# A request handler for a stand-in HTTP server, and the fixture that serves one.
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
FakeRasa = Callable[[Handler], Awaitable[str]]


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_infoline(
    *args: str, env: dict[str, str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the installed `infoline` command with extra environment; capture its output."""
    command = [str(Path(sys.executable).with_name("infoline")), *args]
    return subprocess.run(
        command,
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=ROOT,
        timeout=300,
        check=False,
    )


async def start_run(env: dict[str, str], log: Path | None = None) -> asyncio.subprocess.Process:
    """Start `infoline run` with extra environment; stdout is piped to the test, stderr
    appended to `log`."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
    stderr = await asyncio.to_thread(os.open, log or os.devnull, flags, 0o644)
    try:
        return await asyncio.create_subprocess_exec(
            str(Path(sys.executable).with_name("infoline")),
            "run",
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
        )
    finally:
        os.close(stderr)  # the child keeps its own copy


async def wait_running(process: asyncio.subprocess.Process, seconds: float = 60) -> list[str]:
    """Read `infoline run`'s report up to "Infoline running"; return its lines."""
    assert process.stdout is not None
    lines: list[str] = []
    while not lines or not lines[-1].startswith("Infoline running"):
        line = await asyncio.wait_for(process.stdout.readline(), seconds)
        assert line, f"infoline run ended early: {lines}"
        lines.append(line.decode().strip())
    return lines
