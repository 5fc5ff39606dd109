"""Login throttling: too many failures for one user name or from one address refuse logins.

Counts live in the process's memory: a restart forgets them, and each console process
counts on its own, which still bounds guessing to a few tries per window per process.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class LoginThrottle:
    """Refuse logins for a user name or an address after too many recent failures."""

    def __init__(
        self, max_failures: int, window_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._max = max_failures
        self._window = window_seconds
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}

    def retry_after(self, user: str, address: str) -> float:
        """Return the seconds until a login may be tried again; 0 when it may be now."""
        now = self._clock()
        waits = [self._wait(key, now) for key in self._keys(user, address)]
        return max(waits)

    def failed(self, user: str, address: str) -> None:
        """Count a failed login against the user name and the address."""
        now = self._clock()
        for key in self._keys(user, address):
            self._failures.setdefault(key, deque()).append(now)
        self._prune(now)

    def succeeded(self, user: str) -> None:
        """Forget the user name's failures; the address keeps its own count."""
        self._failures.pop(self._keys(user, "")[0], None)

    def _keys(self, user: str, address: str) -> tuple[str, str]:
        return f"user:{user.strip().casefold()}", f"address:{address}"

    def _wait(self, key: str, now: float) -> float:
        times = self._failures.get(key)
        if times is None:
            return 0.0
        while times and times[0] <= now - self._window:
            times.popleft()
        if len(times) < self._max:
            return 0.0
        return times[-self._max] + self._window - now

    def _prune(self, now: float) -> None:
        # Keeps memory bounded when someone tries thousands of made-up user names.
        stale = [k for k, times in self._failures.items() if times[-1] <= now - self._window]
        for key in stale:
            del self._failures[key]
