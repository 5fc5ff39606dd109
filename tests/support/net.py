"""Small helpers for tests that run servers on 127.0.0.1."""

from __future__ import annotations

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
