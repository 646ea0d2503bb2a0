"""Where the admin's passphrases come from (kiosk.admin.passphrase)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.admin.passphrase import PassphraseSource
from kiosk.content.keys import KeyError_


def source(
    answers: list[str], environ: dict[str, str] | None = None, tty: bool = True, **kw: object
) -> PassphraseSource:
    return PassphraseSource(
        "root",
        "ROOT_PASS",
        environ=environ or {},
        prompt=lambda _: answers.pop(0),
        interactive=lambda: tty,
        **kw,  # type: ignore[arg-type]
    )


def test_a_file_wins_over_the_environment_and_is_read_once(tmp_path: Path) -> None:
    secret = tmp_path / "pass"
    secret.write_text("from the file\n")
    got = source([], {"ROOT_PASS": "from env"}, file=secret)
    assert got() == b"from the file"
    secret.write_text("changed")
    assert got() == b"from the file"


def test_the_environment_then_a_prompt() -> None:
    assert source([], {"ROOT_PASS": "from env"})() == b"from env"
    assert source(["typed"])() == b"typed"


def test_no_terminal_and_nothing_set_says_where_to_put_it() -> None:
    with pytest.raises(KeyError_, match="set ROOT_PASS, give --passphrase-file FILE"):
        source([], tty=False)()


def test_a_new_passphrase_is_asked_twice_and_must_be_long_enough() -> None:
    new = source(["long enough", "long enough"])
    new.new = True
    assert new() == b"long enough"
    differ = source(["long enough", "long enougH"])
    differ.new = True
    with pytest.raises(KeyError_, match="differ"):
        differ()
    short = source(["short", "short"])
    short.new = True
    with pytest.raises(KeyError_, match="8 characters"):
        short()
