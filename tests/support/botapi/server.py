"""BotApi: the simulated Telegram served over HTTP on 127.0.0.1, as the Bot API serves it.

python-telegram-bot calls `POST {base_url}{token}/{method}`; with
`base_url=api.base_url` that is `http://127.0.0.1:{port}/bot{token}/{method}`.
"""

from __future__ import annotations

import asyncio
from types import TracebackType

from aiohttp import web

from tests.support.botapi.methods import METHODS
from tests.support.botapi.protocol import NOT_FOUND, UNAUTHORIZED, ApiError, Params
from tests.support.botapi.records import Call
from tests.support.botapi.world import World

# The Bot API's method names are case-insensitive.
_BY_LOWER_NAME = {name.lower(): name for name in METHODS}


class BotApi(World):
    """A Telegram Bot API server for one bot; use as `async with BotApi() as api:`."""

    port = 0  # set by start()
    _runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        """The base_url for python-telegram-bot: the token and method follow it."""
        return f"http://127.0.0.1:{self.port}/bot"

    async def start(self) -> None:
        """Listen on a free port of 127.0.0.1."""
        application = web.Application()
        application.router.add_route("*", "/{path:.*}", self._handle)
        # A waiting long poll ends at once on stop() (see close()), so no grace period.
        self._runner = web.AppRunner(application, shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        # Port 0 lets the kernel choose: no race with other servers for a "free" port.
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        """End waiting long polls, stop webhook delivery and close the server."""
        self.updates.close()
        await self.webhook.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> BotApi:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        prefix, _, name = request.match_info["path"].partition("/")
        if not prefix.startswith("bot") or not name or "/" in name:
            return ApiError(404, NOT_FOUND).response()
        if prefix.removeprefix("bot") != self.token:
            return ApiError(401, UNAUTHORIZED).response()
        method = _BY_LOWER_NAME.get(name.lower())
        if method is None:
            return ApiError(404, NOT_FOUND).response()
        try:
            params = await Params.read(request)
        except ApiError as err:
            return err.response()
        call = Call(method, params.logged(), asyncio.get_running_loop().time())
        self.calls.append(call)
        try:
            self.faults.check(method)
            result = await METHODS[method](self, params)
        except ApiError as err:
            call.status = err.status
            return err.response()
        call.status = 200
        return web.json_response({"ok": True, "result": result})
