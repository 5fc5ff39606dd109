"""Console accounts: adding, signing in with argon2 password hashes, languages, availability.

Consultants are disabled, never deleted, so that their cases and notes keep their names.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import Iterable, Sequence

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from infoline.core.messages import LANGUAGES
from infoline.handoff.errors import ConsultantExists, InvalidInput, UnknownConsultant
from infoline.handoff.records import Consultant, Role
from infoline.store import casework
from infoline.store import repository as repo
from infoline.store.db import Database, in_session, now
from infoline.store.schema import ConsultantAccount

ROLES: tuple[Role, ...] = ("consultant", "supervisor")
FIRST_SUPERVISOR = "supervisor"
_USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")
_hasher = PasswordHasher()
# Verified against when the user name is unknown, so that the answer takes as long.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def check_languages(languages: Iterable[str]) -> tuple[str, ...]:
    """Return the languages in order without repeats; refuse any the infoline does not serve."""
    chosen = tuple(dict.fromkeys(language.strip().lower() for language in languages))
    unknown = [language for language in chosen if language not in LANGUAGES]
    if unknown or not chosen:
        raise InvalidInput(
            f"languages must be among {', '.join(LANGUAGES)}; got {', '.join(chosen) or 'none'}"
        )
    return chosen


async def add(
    db: Database,
    username: str,
    password: str,
    *,
    display_name: str | None = None,
    languages: Sequence[str] = ("pl",),
    role: Role = "consultant",
    console_language: str | None = None,
    actor: str = "command line",
) -> Consultant:
    """Create an account; raise ConsultantExists when the user name is taken."""
    if not _USERNAME.fullmatch(username):
        raise InvalidInput(
            "a user name is 2 to 64 lower-case letters, digits, dots, dashes or underscores"
        )
    if role not in ROLES:
        raise InvalidInput(f"role must be consultant or supervisor; got {role}")
    if not password:
        raise InvalidInput("the password is empty")
    chosen = check_languages(languages)
    console = console_language or chosen[0]
    check_languages([console])
    hashed = await asyncio.to_thread(_hasher.hash, password)
    account = ConsultantAccount(
        username=username,
        display_name=display_name or username,
        password_hash=hashed,
        role=role,
        languages=",".join(chosen),
        available=False,
        disabled=False,
        console_language=console,
        created_at=now(),
    )
    try:
        async with db.transaction() as session:
            session.add(account)
            await session.flush()
            await in_session(
                session, repo.audit, actor, "consultant_added", f"consultant:{username}", role=role
            )
    except IntegrityError as err:
        raise ConsultantExists(f"There is already a consultant {username!r}.") from err
    return record(account)


async def authenticate(db: Database, username: str, password: str) -> Consultant | None:
    """Return the active consultant with this user name and password, else None (audited)."""
    async with db.transaction() as session:
        account = await _by_name(session, username)
    hashed = account.password_hash if account is not None else _DUMMY_HASH
    try:
        valid: bool = await asyncio.to_thread(_hasher.verify, hashed, password)
    except (VerificationError, InvalidHashError):
        valid = False
    async with db.transaction() as session:
        if account is None or not valid or account.disabled:
            await in_session(
                session, repo.audit, f"consultant:{username}"[:100], "login_failed", "console"
            )
            return None
        fresh = await _by_name(session, username)
        if fresh is None:
            return None
        if _hasher.check_needs_rehash(fresh.password_hash):
            fresh.password_hash = await asyncio.to_thread(_hasher.hash, password)
        await in_session(session, repo.audit, f"consultant:{username}", "login", "console")
        return record(fresh)


async def get(db: Database, consultant_id: int) -> Consultant | None:
    """Return a consultant as stored now (the console reloads its user on every request)."""
    async with db.transaction() as session:
        account = await session.get(ConsultantAccount, consultant_id)
        return record(account) if account is not None else None


async def find(db: Database, username: str) -> Consultant | None:
    """Return the consultant with this user name, disabled or not."""
    async with db.transaction() as session:
        account = await _by_name(session, username)
        return record(account) if account is not None else None


async def list_all(db: Database) -> list[Consultant]:
    """Return every consultant, disabled ones too, by user name."""
    async with db.transaction() as session:
        rows = await session.scalars(select(ConsultantAccount).order_by(ConsultantAccount.username))
        return [record(row) for row in rows]


async def disable(db: Database, username: str, actor: str) -> Consultant:
    """Stop an account from signing in and taking cases; its open cases go back to the queue."""
    async with db.transaction() as session:
        account = await _required(session, username)
        account.disabled = True
        account.available = False
        released = await in_session(session, casework.release_cases_of, account.id, actor)
        await in_session(
            session,
            repo.audit,
            actor,
            "consultant_disabled",
            f"consultant:{username}",
            released=released,
        )
        return record(account)


async def enable(db: Database, username: str, actor: str) -> Consultant:
    """Let a disabled account sign in again."""
    async with db.transaction() as session:
        account = await _required(session, username)
        account.disabled = False
        await in_session(session, repo.audit, actor, "consultant_enabled", f"consultant:{username}")
        return record(account)


async def set_availability(db: Database, username: str, available: bool) -> Consultant:
    """Say whether the consultant is at work: available ones are told of new cases."""
    async with db.transaction() as session:
        account = await _required(session, username)
        if account.disabled and available:
            raise UnknownConsultant(f"Consultant {username!r} is disabled.")
        account.available = available
        await in_session(
            session,
            repo.audit,
            f"consultant:{username}",
            "availability_set",
            f"consultant:{username}",
            available=available,
        )
        return record(account)


async def set_languages(
    db: Database, username: str, languages: Sequence[str], actor: str
) -> Consultant:
    """Set the languages the consultant answers (among pl, uk, ru, en)."""
    chosen = check_languages(languages)
    async with db.transaction() as session:
        account = await _required(session, username)
        account.languages = ",".join(chosen)
        await in_session(
            session,
            repo.audit,
            actor,
            "languages_set",
            f"consultant:{username}",
            languages=list(chosen),
        )
        return record(account)


async def set_console_language(db: Database, username: str, language: str) -> Consultant:
    """Set the language the console speaks to this consultant."""
    (chosen,) = check_languages([language])
    async with db.transaction() as session:
        account = await _required(session, username)
        account.console_language = chosen
        return record(account)


async def set_password(db: Database, username: str, password: str, actor: str) -> None:
    """Replace the consultant's password."""
    if not password:
        raise InvalidInput("the password is empty")
    hashed = await asyncio.to_thread(_hasher.hash, password)
    async with db.transaction() as session:
        account = await _required(session, username)
        account.password_hash = hashed
        await in_session(session, repo.audit, actor, "password_set", f"consultant:{username}")


async def ensure_first_supervisor(db: Database) -> tuple[str, str] | None:
    """Create a supervisor with a generated password when there is no account at all.

    Return (user name, password) when one was made, to be shown once; None otherwise.
    """
    async with db.transaction() as session:
        count = await session.scalar(select(func.count()).select_from(ConsultantAccount))
    if count:
        return None
    password = secrets.token_urlsafe(12)
    try:
        await add(
            db,
            FIRST_SUPERVISOR,
            password,
            display_name="Supervisor",
            languages=LANGUAGES,
            role="supervisor",
            actor="first start",
        )
    except ConsultantExists:
        return None  # another process made it meanwhile
    return FIRST_SUPERVISOR, password


def record(account: ConsultantAccount) -> Consultant:
    """Return the frozen record of an account row."""
    return Consultant(
        id=account.id,
        username=account.username,
        display_name=account.display_name,
        role="supervisor" if account.role == "supervisor" else "consultant",
        languages=tuple(language for language in account.languages.split(",") if language),
        available=account.available,
        disabled=account.disabled,
        console_language=account.console_language,
        created_at=account.created_at,
    )


async def _by_name(session: AsyncSession, username: str) -> ConsultantAccount | None:
    return await session.scalar(
        select(ConsultantAccount).where(ConsultantAccount.username == username)
    )


async def _required(session: AsyncSession, username: str) -> ConsultantAccount:
    account = await _by_name(session, username)
    if account is None:
        raise UnknownConsultant(f"There is no consultant {username!r}.")
    return account
