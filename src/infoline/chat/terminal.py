"""`infoline chat`: lines typed at the terminal go through the real engine, NLU and store."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TextIO

from infoline.core.messages import Command, Inbound, Outgoing

CHANNEL = "terminal"
COMMANDS: dict[str, Command] = {
    "/start": "start",
    "/help": "help",
    "/human": "human",
    "/language": "language",
    "/forget": "forget",
}
HELP = "Commands: /language pl|uk|ru|en, /human, /help, /forget, /quit. Anything else is a message."


class TerminalChannel:
    """Prints the assistant's replies."""

    name = CHANNEL

    def __init__(self, out: TextIO) -> None:
        self._out = out

    async def send(self, message: Outgoing) -> None:
        self._out.write(f"\nassistant ({message.language}): {message.text}\n")
        for button in message.buttons:
            self._out.write(f"  [{button.label}]\n")
        self._out.flush()


def to_inbound(line: str, user: str, hint: str | None) -> Inbound:
    """Turn one typed line into an inbound message (a command or text).

    Buttons cannot be pressed here, so typing /forget is its own confirmation.
    """
    word, _, rest = line.strip().partition(" ")
    command = COMMANDS.get(word.lower())
    if command == "forget":
        rest = "yes"
    return Inbound(
        channel=CHANNEL,
        address=user,
        external_id=uuid.uuid4().hex,
        text="" if command else line,
        command=command,
        argument=rest.strip().lower() or None,
        language_hint=hint,
    )


async def lines(stream: TextIO) -> AsyncIterator[str]:
    """Read lines from a blocking stream without blocking the event loop."""
    while True:
        line = await asyncio.to_thread(stream.readline)
        if not line:
            return
        yield line.rstrip("\n")


async def chat(
    exchange: Callable[[Inbound], Awaitable[object]],
    user: str,
    hint: str | None,
    stream: TextIO = sys.stdin,
) -> None:
    """Converse until /quit or end of input, each reply printed before the next prompt."""
    interactive = stream.isatty()
    print(HELP, flush=True)
    if interactive:
        print("you: ", end="", flush=True)
    async for line in lines(stream):
        if line.strip() == "/quit":
            break
        await exchange(to_inbound(line, user, hint))
        if interactive:
            print("\nyou: ", end="", flush=True)
