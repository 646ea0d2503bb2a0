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

    def __init__(
        self,
        token: bytes,
        clock: Clock,
        lifetime_s: float = 12 * 3600,
        named: Callable[[str], str | None] = lambda _: None,
        active: Callable[[str], bool] = lambda _: True,
    ) -> None:
        """`named(token)` gives the named admin holding a personal token, `active(name)` says
        the admin is not revoked (hub/admins.py): revoking ends their sessions at once."""
        self._token = token
        self._clock = clock
        self._named = named
        self._active = active
        self.lifetime_s = lifetime_s
        self._expiry: dict[str, float] = {}
        self._who: dict[str, str] = {}

    def login(self, given: str) -> str | None:
        """A new session id if `given` is the admin token or a named admin's, else None."""
        if hmac.compare_digest(given.encode(), self._token):
            name: str | None = "bootstrap"
        else:
            name = self._named(given) if given else None
        if name is None:
            return None
        now = self._clock()
        self._expiry = {k: t for k, t in self._expiry.items() if t > now}
        self._who = {k: n for k, n in self._who.items() if k in self._expiry}
        session_id = secrets.token_urlsafe(32)
        self._expiry[_digest(session_id)] = now + self.lifetime_s
        self._who[_digest(session_id)] = name
        return session_id

    def valid(self, session_id: str | None) -> bool:
        return self.who(session_id) is not None

    def who(self, session_id: str | None) -> str | None:
        """The admin's name for a live session, else None."""
        if not session_id:
            return None
        key = _digest(session_id)
        expiry = self._expiry.get(key)
        if expiry is None or self._clock() >= expiry:
            return None
        name = self._who.get(key, "bootstrap")
        return name if name == "bootstrap" or self._active(name) else None

    def logout(self, session_id: str | None) -> None:
        if session_id:
            self._expiry.pop(_digest(session_id), None)
