"""Erasure on request: texts and personal data go, anonymous counts stay."""

from __future__ import annotations

from infoline.store import repository as repo
from infoline.store.db import Database


async def erase_contact(db: Database, channel: str, address: str, actor: str) -> bool:
    """Erase one contact's message texts and personal data; False when there is none."""
    return await db.run(repo.erase_contact, channel, address, actor)
