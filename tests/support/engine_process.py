"""An infoline engine process for crash tests: receives an inbox file, delivers to a file.

python -m tests.support.engine_process INBOX DELIVERIES [--hold]
The database and NLU server come from INFOLINE_* variables, as for `infoline run`.
Every inbox line is received again at each start, as a channel re-delivers what it was
never told it may forget; the engine's idempotent receive keeps one copy. The process
exits once every message is handled and every reply delivered. With --hold it handles
everything but delivers nothing, prints "held", and waits to be killed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from pathlib import Path

from sqlalchemy import func, select

from infoline import app
from infoline.config import load_settings
from infoline.core.messages import Inbound, Outgoing
from infoline.store.schema import Message, Outbox
from tests.support.net import ROOT


class FileChannel:
    """Appends each delivery to a file and syncs it, so a kill cannot lose a delivery record."""

    name = "telegram"

    def __init__(self, path: Path) -> None:
        self._path = path

    async def send(self, message: Outgoing) -> None:
        with self._path.open("a", encoding="utf-8") as handle:
            handle.write(f"{message.outbox_id}\t{message.address}\n")
            handle.flush()
            os.fsync(handle.fileno())


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("inbox", type=Path)
    parser.add_argument("deliveries", type=Path)
    parser.add_argument("--hold", action="store_true")
    args = parser.parse_args()
    settings = load_settings(ROOT / "config.yml")
    channels = {} if args.hold else {"telegram": FileChannel(args.deliveries)}
    async with app.assistant(settings, channels) as parts:
        for line in args.inbox.read_text(encoding="utf-8").splitlines():
            await parts.engine.receive(Inbound(**json.loads(line)))
        engine = asyncio.create_task(parts.engine.run(poll_seconds=0.2))
        dispatcher = asyncio.create_task(parts.dispatcher.run(poll_seconds=0.2))
        while True:
            await asyncio.sleep(0.2)
            async with parts.database.transaction() as session:
                unhandled = await session.scalar(
                    select(func.count())
                    .select_from(Message)
                    .where(Message.direction == "in", Message.processed_at.is_(None))
                )
                unsent = await session.scalar(
                    select(func.count()).select_from(Outbox).where(Outbox.status == "pending")
                )
            if not unhandled and (args.hold or not unsent):
                break
        if args.hold:
            print("held", flush=True)
            await asyncio.Event().wait()
        # Wait for the cancelled tasks before the database closes: a task cancelled later
        # would keep its connection (and the driver's thread) alive, and the process too.
        engine.cancel()
        dispatcher.cancel()
        await asyncio.gather(engine, dispatcher, return_exceptions=True)


if __name__ == "__main__":
    asyncio.run(main())
