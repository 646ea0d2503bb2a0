"""Named admins and the audit table on SQLite and on PostgreSQL (Debian's, started here)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hub.admins import AdminError, AdminStore
from hub.audit import AuditLog
from hub.auth import digest
from hub.db import Database
from hub.settings import Settings
from hub.webauth import AdminSessions
from tests.integration.test_fleetstore import Clock


@pytest.fixture
def db(hub_database: Database) -> Database:
    return hub_database


def test_admin_tokens_are_personal_and_revocable(db: Database) -> None:
    clock = Clock()
    admins = AdminStore(db, clock)
    ana = admins.add("ana")
    bo = admins.add("bo")
    assert (admins.name_of(ana), admins.name_of(bo), admins.name_of("guess")) == ("ana", "bo", None)
    stored = {r[0] for r in db.query("SELECT token_sha256 FROM admins")}
    assert stored == {digest(ana), digest(bo)}  # only digests
    with pytest.raises(AdminError, match="admin 'ana' exists"):
        admins.add("ana")
    with pytest.raises(AdminError, match="lower-case letters"):
        admins.add("Ana Lima")
    with pytest.raises(AdminError, match="not 'bootstrap'"):
        admins.add("bootstrap")

    sessions = AdminSessions(b"boot", clock, named=admins.name_of, active=admins.active)
    session = sessions.login(ana)
    assert session is not None and sessions.who(session) == "ana"
    assert sessions.who(sessions.login("boot")) == "bootstrap"
    assert sessions.login("wrong") is None

    clock.now += 10
    admins.revoke("ana")
    assert admins.name_of(ana) is None
    assert sessions.who(session) is None  # revoking ends the web session too
    with pytest.raises(AdminError, match="no active admin 'ana'"):
        admins.revoke("ana")
    again = admins.add("ana")  # a revoked name may come back, with a new token
    assert admins.name_of(again) == "ana" and admins.name_of(ana) is None
    assert [(a.name, a.revoked_at) for a in admins.list()] == [("ana", None), ("bo", None)]


def test_audit_entries_by_set(db: Database) -> None:
    clock = Clock()
    log = AuditLog(db, clock)
    log.record("ana", "publish", "set lobby", "version 1", ("lobby",))
    clock.now += 1
    log.record("bo", "retire", "clip maria.opus", "withdrawn", ("hall", "lobby"))
    log.record("bo", "booth revoke", "booth b1")
    assert [(e.actor, e.action) for e in log.entries()] == [
        ("bo", "booth revoke"),
        ("bo", "retire"),
        ("ana", "publish"),
    ]
    assert [e.action for e in log.entries(set_name="lobby")] == ["retire", "publish"]
    assert [e.action for e in log.entries(set_name="hall")] == ["retire"]
    assert log.entries(set_name="lob") == []
    assert log.entries(limit=1)[0].at == clock.now


def test_admin_tokens_go_on_a_command_line_as_they_are(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`kiosk-admin --token T`: a token starting with '-' would read as an option (a URL-safe
    base64 token did, one time in 64: CI saw it)."""
    store = AdminStore(db, Clock())
    tokens = [store.add(f"admin{i}") for i in range(100)]
    monkeypatch.delenv("KIOSK_HUB_ADMIN_TOKEN", raising=False)
    tokens.append(Settings(data=tmp_path).admin_token())
    assert all(re.fullmatch(r"[0-9a-f]{64}", t) for t in tokens), tokens
