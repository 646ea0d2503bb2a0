"""The admin's login for the hub's web pages: the admin token, once, for a session cookie.

Sessions are random ids kept in memory (only their sha256), so logging out ends one at once
and restarting the hub ends them all. The cookie is HttpOnly and SameSite=Strict (a page on
another site can neither read it nor send it, so a cross-site form cannot log out or act), and
Secure when the request came over HTTPS. Tokens are compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable

Clock = Callable[[], float]
COOKIE = "kiosk_hub_session"


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class AdminSessions:
    """Logged-in browsers: sha256 of the session id -> expiry (Unix s). Single dict operations
    only, so the event loop and the thread pool's routes may share it."""

    def __init__(self, token: bytes, clock: Clock, lifetime_s: float = 12 * 3600) -> None:
        self._token = token
        self._clock = clock
        self.lifetime_s = lifetime_s
        self._expiry: dict[str, float] = {}

    def login(self, given: str) -> str | None:
        """A new session id if `given` is the admin token, else None."""
        if not hmac.compare_digest(given.encode(), self._token):
            return None
        now = self._clock()
        self._expiry = {k: t for k, t in self._expiry.items() if t > now}
        session_id = secrets.token_urlsafe(32)
        self._expiry[_digest(session_id)] = now + self.lifetime_s
        return session_id

    def valid(self, session_id: str | None) -> bool:
        if not session_id:
            return False
        expiry = self._expiry.get(_digest(session_id))
        return expiry is not None and self._clock() < expiry

    def logout(self, session_id: str | None) -> None:
        if session_id:
            self._expiry.pop(_digest(session_id), None)
