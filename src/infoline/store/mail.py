"""What the mailbox channel keeps: files that came with a message, and how far it has
read each IMAP folder. Synchronous Core statements, like the repository's."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, bindparam, insert, select, update

from infoline.store.schema import MailboxPosition, StoredAttachment

_ADD_ATTACHMENTS = insert(StoredAttachment)


def add_attachments(
    connection: Connection, message_id: int, files: Sequence[tuple[str, str, int, bytes | None]]
) -> None:
    """Keep the files (name, type, size, content or None) that came with a message."""
    if files:
        connection.execute(
            _ADD_ATTACHMENTS,
            [
                {
                    "message_id": message_id,
                    "name": name,
                    "mime": mime,
                    "size": size,
                    "content": data,
                }
                for name, mime, size, data in files
            ],
        )


_POSITION = select(MailboxPosition.uidvalidity, MailboxPosition.last_uid).where(
    MailboxPosition.folder == bindparam("folder")
)
_LOCK_POSITION = _POSITION.with_for_update()  # (SQLite: the transaction's own lock)
_ADD_POSITION = insert(MailboxPosition)
# (An UPDATE's bind names must differ from its table's column names.)
_MOVE_POSITION = (
    update(MailboxPosition)
    .where(MailboxPosition.folder == bindparam("in_folder"))
    .values(uidvalidity=bindparam("new_uidvalidity"), last_uid=bindparam("new_uid"))
)


def mailbox_position(connection: Connection, folder: str) -> tuple[int, int] | None:
    """Return how far the mailbox channel has handled an IMAP folder (UIDVALIDITY, last
    UID), if it has started."""
    row = connection.execute(_POSITION, {"folder": folder}).first()
    return None if row is None else (row.uidvalidity, row.last_uid)


def advance_mailbox(connection: Connection, folder: str, uidvalidity: int, uid: int) -> None:
    """Note that message `uid` of the folder is handled, in the caller's transaction.

    A new UIDVALIDITY means the folder was recreated and its UIDs start again (RFC 3501,
    section 2.3.1.1), so the position follows it even when `uid` is lower.
    """
    position = connection.execute(_LOCK_POSITION, {"folder": folder}).first()
    if position is None:
        connection.execute(
            _ADD_POSITION, {"folder": folder, "uidvalidity": uidvalidity, "last_uid": uid}
        )
        return
    if position.uidvalidity == uidvalidity:
        uid = max(position.last_uid, uid)
    connection.execute(
        _MOVE_POSITION, {"in_folder": folder, "new_uidvalidity": uidvalidity, "new_uid": uid}
    )
