"""The hub's settings: one data folder holds everything (embedded default: SQLite + files)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from hub.ratelimit import RateLimits


@dataclass(frozen=True)
class Settings:
    """`data/repo` is the repository (any web server can serve it), `data/online-keys` the
    snapshot and timestamp keys, `data/hub.sqlite3` the database, `data/admin-token` the
    admins' bearer token (made on first start unless KIOSK_HUB_ADMIN_TOKEN is set)."""

    data: Path
    max_upload_bytes: int = 200 * 1024 * 1024
    refresh_before_expiry_days: int = 7  # re-sign snapshot and timestamp this long before
    rate_limits: RateLimits = field(default_factory=RateLimits)

    @property
    def repo(self) -> Path:
        return self.data / "repo"

    @property
    def online_keys(self) -> Path:
        return self.data / "online-keys"

    @property
    def database(self) -> Path:
        return self.data / "hub.sqlite3"

    @property
    def database_url(self) -> str:
        """KIOSK_HUB_DATABASE_URL (postgresql://...): PostgreSQL instead of `database`."""
        return os.environ.get("KIOSK_HUB_DATABASE_URL", "")

    def admin_token(self) -> str:
        """The admin token; created 0600 on first use."""
        env = os.environ.get("KIOSK_HUB_ADMIN_TOKEN")
        if env:
            return env
        path = self.data / "admin-token"
        if not path.exists():
            self.data.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32) + "\n")  # hex: never a leading "-"
        return path.read_text().strip()
