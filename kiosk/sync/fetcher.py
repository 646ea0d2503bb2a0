"""HTTP for sync: a tuf.ngclient fetcher over requests with deadlines, plus resumable downloads.

TUF no longer guards against slow retrieval, so every fetch has a per-file and a per-sync
deadline, checked as bytes arrive (`read1`, not `iter_content(n)`, which waits for n bytes).
Every error that leaves here is a tuf DownloadError subclass.
"""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import requests
import urllib3
from tuf.api.exceptions import (
    DownloadError,
    DownloadHTTPError,
    DownloadLengthMismatchError,
    SlowRetrievalError,
)
from tuf.ngclient.fetcher import FetcherInterface

from kiosk import __version__

_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")


@dataclass(frozen=True)
class FetchLimits:
    """Network limits, units in the names."""

    connect_timeout_s: float = 10.0
    read_timeout_s: float = 20.0  # longest silence between bytes
    file_deadline_s: float = 300.0  # one file, headers to last byte
    sync_deadline_s: float = 900.0  # a whole sync
    chunk_bytes: int = 64 * 1024
    attempts: int = 3  # per request, for a 5xx answer or a dropped connection
    retry_pause_s: float = 0.5


class Fetcher(FetcherInterface):
    """requests with deadlines; `start_sync()` opens a new overall budget."""

    def __init__(self, limits: FetchLimits | None = None, session: requests.Session | None = None):
        self.limits = limits or FetchLimits()
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = f"kiosk/{__version__}"
        self._sync_deadline: float | None = None
        self.requests = 0
        self.bytes = 0

    def close(self) -> None:
        self.session.close()

    def start_sync(self) -> None:
        self._sync_deadline = time.monotonic() + self.limits.sync_deadline_s

    def _deadline(self) -> float:
        d = time.monotonic() + self.limits.file_deadline_s
        return d if self._sync_deadline is None else min(d, self._sync_deadline)

    def _fetch(self, url: str) -> Iterator[bytes]:
        # ngclient reads 403/404 on N.root.json as "no newer root": the real code is kept.
        return self._fetch_chunks(url)

    @contextmanager
    def download_file(self, url: str, max_length: int) -> Iterator[IO[bytes]]:
        """As FetcherInterface's, but the response closes at once when it runs over."""
        received = 0
        with tempfile.TemporaryFile() as temp:
            chunks = self._fetch_chunks(url)
            try:
                for chunk in chunks:
                    received += len(chunk)
                    if received > max_length:
                        raise DownloadLengthMismatchError(
                            f"{url}: more than the allowed {max_length} bytes"
                        )
                    temp.write(chunk)
            finally:
                chunks.close()
            temp.seek(0)
            yield temp

    def _fetch_chunks(self, url: str) -> Generator[bytes, None, None]:
        resp, deadline = self._get(url, {})
        if resp.status_code != 200:
            resp.close()
            raise DownloadHTTPError(f"HTTP {resp.status_code} for {url}", resp.status_code)
        return self._chunks(resp, url, deadline)

    def download_resumable(self, url: str, part: Path, max_bytes: int) -> None:
        """Append to `part` until the server has sent everything; resume with Range.

        The caller verifies length and hash. Raises DownloadError family.
        """
        have = part.stat().st_size if part.exists() else 0
        if have > max_bytes:
            part.unlink()
            have = 0
        headers = {"Range": f"bytes={have}-"} if have else {}
        resp, deadline = self._get(url, headers)
        if resp.status_code == 416 and have:  # nothing left to send (or a bad part file)
            resp.close()
            part.unlink()
            return self.download_resumable(url, part, max_bytes)
        if resp.status_code == 206:
            self._check_range(resp, have, url)
            mode = "ab"
        elif resp.status_code == 200:
            mode = "wb"  # the server ignored Range: start over
            have = 0
        else:
            resp.close()
            raise DownloadHTTPError(f"HTTP {resp.status_code} for {url}", resp.status_code)
        chunks = self._chunks(resp, url, deadline)
        try:
            with part.open(mode) as f:
                for chunk in chunks:
                    have += len(chunk)
                    if have > max_bytes:
                        raise DownloadError(f"{url}: more than the signed length {max_bytes} bytes")
                    f.write(chunk)
        finally:
            chunks.close()  # closes the response now, not when garbage collected
        return None

    def _check_range(self, resp: requests.Response, have: int, url: str) -> None:
        match = _CONTENT_RANGE.match(resp.headers.get("Content-Range", ""))
        if match is None or int(match.group(1)) != have:
            resp.close()
            got = resp.headers.get("Content-Range")
            raise DownloadError(f"{url}: asked for bytes {have}-, got Content-Range {got!r}")

    def _get(self, url: str, headers: dict[str, str]) -> tuple[requests.Response, float]:
        """GET with headers read; a 5xx or a dropped connection is retried (within limits)."""
        deadline = self._deadline()
        for attempt in range(1, self.limits.attempts + 1):
            left = deadline - time.monotonic()
            if left <= 0:
                raise SlowRetrievalError(f"sync deadline passed before {url}")
            self.requests += 1
            timeout = (
                min(self.limits.connect_timeout_s, left),
                min(self.limits.read_timeout_s, left),
            )
            try:
                resp = self.session.get(url, headers=headers, stream=True, timeout=timeout)
            except requests.Timeout as e:
                raise SlowRetrievalError(f"timed out connecting to {url}") from e
            except requests.RequestException as e:
                if attempt == self.limits.attempts:
                    raise DownloadError(f"cannot reach {url}: {e}") from e
            else:
                if resp.status_code < 500 or attempt == self.limits.attempts:
                    return resp, deadline
                resp.close()
            time.sleep(min(self.limits.retry_pause_s * attempt, max(0.0, left / 2)))
        raise AssertionError("unreachable")

    def _chunks(
        self, resp: requests.Response, url: str, deadline: float
    ) -> Generator[bytes, None, None]:
        # Errors raised while this generator runs are not wrapped by FetcherInterface.fetch():
        # convert them here so only DownloadError leaves.
        try:
            while True:
                if time.monotonic() > deadline:
                    raise SlowRetrievalError(f"{url}: too slow, dropped after the deadline")
                chunk = resp.raw.read1(self.limits.chunk_bytes, decode_content=True)
                if not chunk:
                    return
                self.bytes += len(chunk)
                yield chunk
        except urllib3.exceptions.ReadTimeoutError as e:
            raise SlowRetrievalError(f"{url}: no data for {self.limits.read_timeout_s} s") from e
        except (urllib3.exceptions.HTTPError, OSError) as e:
            raise DownloadError(f"{url}: connection failed mid-file: {e}") from e
        finally:
            resp.close()
