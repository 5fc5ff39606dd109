"""`infoline run` brings everything up, reports readiness, and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import re
import signal
import stat
from pathlib import Path

import pytest
from aiohttp import ClientSession, CookieJar

from infoline.config import Settings
from infoline.console.keys import KEY_FILE
from infoline.nlu.server import RasaServer, is_ready
from tests.support.console import log_in
from tests.support.net import free_port, start_run, wait_running

pytestmark = pytest.mark.nlu


def run_env(nlu_url: str, manage: bool, folder: Path) -> dict[str, str]:
    """`infoline run` on a database in `folder`."""
    return {
        "INFOLINE_NLU_URL": nlu_url,
        "INFOLINE_NLU_MANAGE": str(manage).lower(),
        "INFOLINE_DATABASE_URL": f"sqlite+aiosqlite:///{folder / 'run.db'}",
        "INFOLINE_APP_VAR_DIR": str(folder / "var"),
        "INFOLINE_CONSOLE_PORT": str(free_port()),
    }


async def test_run_reports_readiness_and_stops_on_sigterm(
    nlu_server: RasaServer, tmp_path: Path
) -> None:
    env = run_env(nlu_server.url, manage=False, folder=tmp_path)
    process = await start_run(env)
    lines = await wait_running(process)
    assert lines[0].startswith(f"NLU server ready at {nlu_server.url}")
    assert "Telegram channel off: INFOLINE_TELEGRAM_TOKEN is not set." in lines
    console = f"http://127.0.0.1:{env['INFOLINE_CONSOLE_PORT']}/"
    assert f"Console on {console}" in lines
    (created,) = [line for line in lines if line.startswith("First supervisor created")]
    password = re.search(r"password '([^']+)'", created)
    assert password is not None
    cookies = CookieJar(unsafe=True)
    async with ClientSession(console, cookie_jar=cookies) as client:
        assert (await log_in(client, "supervisor", password.group(1))).status == 303
    assert stat.S_IMODE((tmp_path / "var" / KEY_FILE).stat().st_mode) == 0o600
    process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(process.wait(), 30) == 0
    assert (tmp_path / "run.db").exists()
    again = await start_run(env)
    assert not any(line.startswith("First") for line in await wait_running(again))
    # The session key kept in var/ lets the first run's login go on after the restart.
    async with (
        ClientSession(console, cookie_jar=cookies) as client,
        client.get("/queue", allow_redirects=False) as queue,
    ):
        assert queue.status == 200
    again.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(again.wait(), 30) == 0


async def test_managed_nlu_server_does_not_outlive_a_killed_app(
    settings: Settings, tmp_path: Path
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    process = await start_run(run_env(url, manage=True, folder=tmp_path))
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), settings.nlu.startup_timeout)
    assert line.decode().startswith(f"NLU server ready at {url}")
    assert await is_ready(url)
    process.send_signal(signal.SIGKILL)
    await process.wait()
    for _ in range(60):
        if not await is_ready(url):
            break
        await asyncio.sleep(0.5)
    assert not await is_ready(url), "the NLU server outlived the app that started it"
