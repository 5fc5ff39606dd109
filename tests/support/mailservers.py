"""Real mail servers for tests: a private Dovecot (IMAP) and an aiosmtpd sink (SMTP).

Both listen on 127.0.0.1 only, on free ports. Dovecot runs as its own process group in
the foreground, so that stopping it also ends the IMAP sessions it serves: a restart
then drops every client's connection, as a real server restart or crash does.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from imapclient import IMAPClient

from infoline.config import MailboxSettings
from tests.support.net import ROOT, free_port

HOST = "127.0.0.1"
T = TypeVar("T")
_APPENDUID = re.compile(rb"\[APPENDUID \d+ (\d+)\]")
_CONFIG = """\
protocols = imap
listen = {host}
base_dir = {tmp}/run
state_dir = {tmp}/state
log_path = {tmp}/dovecot.log
ssl = yes
ssl_cert = <{tmp}/cert.pem
ssl_key = <{tmp}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{tmp}/mail/%u
first_valid_uid = 1
auth_failure_delay = 0
# IDLE learns of new mail through inotify; where a busy machine has used up its inotify
# instances, Dovecot falls back to looking every 30 s, too slow for the tests' waits.
mailbox_idle_check_interval = 1 secs
{capability}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {tmp}/users/%u
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={tmp}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = {host}
    port = {port}
  }}
  inet_listener imaps {{
    address = {host}
    port = {tls_port}
  }}
}}
"""


def dovecot_binary() -> str:
    """Return Dovecot's path; install it first (scripts/dovecot) when it is missing."""
    found = shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin:/sbin")
    if found is None:
        subprocess.run([str(ROOT / "scripts" / "dovecot")], check=True)
        found = shutil.which("dovecot", path=f"{os.environ.get('PATH', '')}:/usr/sbin")
    if found is None:
        raise RuntimeError("scripts/dovecot ran but no dovecot binary is on PATH")
    return found


@dataclass(frozen=True, slots=True)
class StoredMail:
    """One message in an IMAP folder as the server holds it."""

    uid: int
    flags: frozenset[str]
    raw: bytes


class Dovecot:
    """A private Dovecot instance in a temporary folder; mail survives restarts."""

    def __init__(self, capability: str | None = None) -> None:
        """Prepare the instance; `capability` replaces the advertised IMAP capabilities."""
        self._binary = dovecot_binary()  # installs Dovecot, and openssl with it, if need be
        self.host = HOST
        self.port = free_port()  # plain IMAP, STARTTLS offered
        self.tls_port = free_port()  # implicit TLS
        self._passwords: dict[str, str] = {}
        self._process: subprocess.Popen[bytes] | None = None
        # mkdtemp makes the folder 0700; Dovecot's unprivileged processes must traverse it.
        self.folder = Path(tempfile.mkdtemp(prefix="dovecot-"))
        self.folder.chmod(0o755)
        for name in ("run", "state", "users"):
            (self.folder / name).mkdir()
        (self.folder / "mail").mkdir(mode=0o777)
        (self.folder / "mail").chmod(0o777)  # the mail processes run as nobody
        self.cert = self.folder / "cert.pem"
        subprocess.run(
            [
                "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                "-subj", f"/CN={HOST}", "-addext", f"subjectAltName=IP:{HOST}",
                "-keyout", str(self.folder / "key.pem"), "-out", str(self.cert),
            ],
            check=True,
            capture_output=True,
        )  # fmt: skip
        line = f"imap_capability = {capability}" if capability is not None else ""
        self.config = self.folder / "dovecot.conf"
        self.config.write_text(
            _CONFIG.format(
                host=HOST, tmp=self.folder, port=self.port, tls_port=self.tls_port, capability=line
            )
        )

    def __enter__(self) -> Dovecot:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def ssl_context(self) -> ssl.SSLContext:
        """Return a client context that trusts this instance's self-signed certificate."""
        return ssl.create_default_context(cafile=str(self.cert))

    def log(self) -> str:
        """Return what Dovecot logged so far (for failure messages)."""
        path = self.folder / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        if self._process is not None:
            raise RuntimeError("Dovecot is running already")
        with (self.folder / "master.out").open("ab") as output:
            self._process = subprocess.Popen(
                [self._binary, "-F", "-c", str(self.config)],
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                output_text = (self.folder / "master.out").read_text(errors="replace")
                self._process = None
                raise RuntimeError(f"Dovecot exited at start:\n{output_text}{self.log()}")
            try:
                with socket.create_connection((HOST, self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"Dovecot did not listen on port {self.port} in 10 s:\n{self.log()}")

    def stop(self) -> None:
        """Stop the server and every process it started, open IMAP sessions included."""
        process, self._process = self._process, None
        if process is None:
            return
        group = process.pid
        _signal_group(group, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        finally:
            # Dovecot's master leaves its IMAP and log processes running; end them so
            # that clients see the drop and the ports are free for the next start.
            _signal_group(group, signal.SIGKILL)
            process.wait()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and _signal_group(group, 0):
            time.sleep(0.02)

    def restart(self) -> None:
        """Stop and start again on the same ports, with the same users and mail."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop the server and remove its folder."""
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def add_user(self, name: str, password: str) -> None:
        """Create a mail account, usable at once."""
        # A file per user: Dovecot may miss a change to one shared file made within the
        # second of its last look (a user added then fails to log in), but it opens a
        # file it has not seen before.
        if ":" in name + password or "/" in name or name in self._passwords:
            raise ValueError(f"cannot add user {name!r}")
        self._passwords[name] = password
        (self.folder / "users" / name).write_text(f"{name}:{{PLAIN}}{password}\n")

    def password(self, user: str) -> str:
        return self._passwords[user]

    def mailbox_settings(self, user: str, **overrides: Any) -> MailboxSettings:
        """Return settings for the mailbox channel on `user`'s account, plain IMAP."""
        values: dict[str, Any] = {
            "address": user,
            "imap_host": HOST,
            "imap_port": self.port,
            "imap_user": user,
            "imap_security": "none",
            "smtp_host": HOST,
            "smtp_security": "none",
        }
        return MailboxSettings(**(values | overrides))

    async def append(
        self, user: str, raw: bytes, folder: str = "INBOX", flags: Sequence[str] = ()
    ) -> int:
        """Put a message into a folder with IMAP APPEND; return its UID."""

        def work(client: IMAPClient) -> int:
            answer = client.append(folder, raw, flags=tuple(flags))
            found = _APPENDUID.search(answer)
            if found is None:
                raise RuntimeError(f"APPEND gave no UID: {answer!r}")
            return int(found.group(1))

        return await asyncio.to_thread(self._as_user, user, work)

    async def messages(self, user: str, folder: str = "INBOX") -> list[StoredMail]:
        """Return the folder's messages in UID order, with their flags, without \\Seen-ing."""

        def work(client: IMAPClient) -> list[StoredMail]:
            client.select_folder(folder, readonly=True)
            uids = client.search("ALL")
            if not uids:
                return []
            found = client.fetch(uids, ["FLAGS", "BODY.PEEK[]"])
            return [
                StoredMail(
                    uid,
                    # \\Recent belongs to one session, not the mail (RFC 9051 drops it).
                    frozenset(f.decode() for f in found[uid][b"FLAGS"]) - {"\\Recent"},
                    found[uid][b"BODY[]"],
                )
                for uid in sorted(found)
            ]

        return await asyncio.to_thread(self._as_user, user, work)

    async def uidvalidity(self, user: str, folder: str = "INBOX") -> int:
        """Return the folder's UIDVALIDITY."""

        def work(client: IMAPClient) -> int:
            return int(client.folder_status(folder, ["UIDVALIDITY"])[b"UIDVALIDITY"])

        return await asyncio.to_thread(self._as_user, user, work)

    async def create_folder(self, user: str, folder: str) -> None:
        await asyncio.to_thread(self._as_user, user, lambda client: client.create_folder(folder))

    async def delete_folder(self, user: str, folder: str) -> None:
        await asyncio.to_thread(self._as_user, user, lambda client: client.delete_folder(folder))

    async def append_many(self, user: str, raws: Sequence[bytes], folder: str = "INBOX") -> None:
        """Put many messages into a folder over one connection (for load)."""

        def work(client: IMAPClient) -> None:
            for raw in raws:
                client.append(folder, raw)

        await asyncio.to_thread(self._as_user, user, work)

    def _as_user(self, user: str, work: Callable[[IMAPClient], T]) -> T:
        with self._client(user) as client:
            return work(client)

    @contextmanager
    def _client(self, user: str) -> Iterator[IMAPClient]:
        with IMAPClient(HOST, self.port, ssl=False, timeout=10) as client:
            client.login(user, self._passwords[user])
            yield client


def _signal_group(group: int, number: int) -> bool:
    """Send a signal to a process group; return whether any process was in it."""
    try:
        os.killpg(group, number)
    except ProcessLookupError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class SmtpReceived:
    """One message as the SMTP sink took it in."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage
    raw: bytes


class SmtpSink:
    """An aiosmtpd server in its own thread that keeps every message it accepts."""

    def __init__(self) -> None:
        self.host = HOST
        self.port = free_port()
        self._received: list[SmtpReceived] = []
        self._lock = threading.Lock()
        self._refusal: str | None = None
        self._controller = Controller(self, hostname=HOST, port=self.port)

    @property
    def received(self) -> list[SmtpReceived]:
        with self._lock:
            return list(self._received)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def refuse(self, code: int = 451) -> None:
        """Answer every recipient with this error code until accept() (451: try later)."""
        status = "4.3.0 Try again later" if code < 500 else "5.7.1 Refused"
        self._refusal = f"{code} {status}"

    def accept(self) -> None:
        """Accept mail again."""
        self._refusal = None

    # A timeout argument as asyncio.wait_for has: the limit reads best next to the count.
    async def wait_for(self, count: int, timeout: float = 5.0) -> list[SmtpReceived]:  # noqa: ASYNC109
        """Wait until at least `count` messages have arrived; return all of them."""
        deadline = time.monotonic() + timeout
        while len(received := self.received) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(received)} of {count} messages arrived in {timeout} s")
            await asyncio.sleep(0.02)
        return received

    # aiosmtpd calls these hooks by name, in the server's thread.

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        # Greylisting answers at RCPT too: the sender sees which recipient failed and why.
        if self._refusal is not None:
            return self._refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self._lock:
            self._received.append(
                SmtpReceived(envelope.mail_from or "", tuple(envelope.rcpt_tos), message, raw)
            )
        return "250 Message accepted"
