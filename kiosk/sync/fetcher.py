"""HTTP for sync: a tuf.ngclient fetcher over requests with deadlines, plus resumable downloads.

TUF no longer guards against slow retrieval, so every fetch has a per-file and a per-sync
deadline that holds on the wall clock over the whole request: connect, status line, headers,
redirects and body. A `SocketGuard` shuts the connection when it passes, whatever the server is
doing; the body is also read as bytes arrive (`read1`, not `iter_content(n)`, which waits for n
bytes). Every error that leaves here is a tuf DownloadError subclass.
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
from kiosk.sync.deadline import GuardedAdapter, SocketGuard

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
    max_redirects: int = 3  # a CDN may redirect once or twice; requests' default is 30


class Fetcher(FetcherInterface):
    """requests with deadlines; `start_sync()` opens a new overall budget."""

    def __init__(self, limits: FetchLimits | None = None, session: requests.Session | None = None):
        self.limits = limits or FetchLimits()
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = f"kiosk/{__version__}"
        self.session.max_redirects = self.limits.max_redirects
        self.guard = SocketGuard()
        adapter = GuardedAdapter(self.guard)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self._sync_deadline: float | None = None
        self.requests = 0
        self.bytes = 0

    def close(self) -> None:
        self.guard.disarm()
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
            self._drop(resp)
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
            self._drop(resp)
            part.unlink()
            return self.download_resumable(url, part, max_bytes)
        if resp.status_code == 206:
            self._check_range(resp, have, url)
            mode = "ab"
        elif resp.status_code == 200:
            mode = "wb"  # the server ignored Range: start over
            have = 0
        else:
            self._drop(resp)
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
            self._drop(resp)
            got = resp.headers.get("Content-Range")
            raise DownloadError(f"{url}: asked for bytes {have}-, got Content-Range {got!r}")

    def _drop(self, resp: requests.Response) -> None:
        """Close a response whose body will not be read (and stop its deadline)."""
        self.guard.disarm()
        resp.close()

    def _get(self, url: str, headers: dict[str, str]) -> tuple[requests.Response, float]:
        """GET with headers read; a 5xx or a dropped connection is retried (within limits).

        Arms the guard at the file's deadline; `_chunks` disarms it when the body is done.
        """
        deadline = self._deadline()
        self.guard.arm(deadline)
        try:
            return self._get_guarded(url, headers, deadline), deadline
        except BaseException:
            self.guard.disarm()
            raise

    def _get_guarded(self, url: str, headers: dict[str, str], deadline: float) -> requests.Response:
        for attempt in range(1, self.limits.attempts + 1):
            left = deadline - time.monotonic()
            if left <= 0 or self.guard.tripped:
                raise SlowRetrievalError(f"{url}: {self._passed()} before an answer")
            self.requests += 1
            timeout = (
                min(self.limits.connect_timeout_s, left),
                min(self.limits.read_timeout_s, left),
            )
            try:
                resp = self.session.get(url, headers=headers, stream=True, timeout=timeout)
            except requests.TooManyRedirects as e:
                raise DownloadError(
                    f"{url}: more than {self.limits.max_redirects} redirects"
                ) from e
            except requests.RequestException as e:
                if self.guard.tripped:
                    raise SlowRetrievalError(f"{url}: {self._passed()} before an answer") from e
                if isinstance(e, requests.Timeout):
                    raise SlowRetrievalError(f"{url}: timed out waiting for an answer") from e
                if attempt == self.limits.attempts:
                    raise DownloadError(f"cannot reach {url}: {e}") from e
            else:
                if self.guard.tripped:  # a status line cut short can still parse
                    resp.close()
                    raise SlowRetrievalError(f"{url}: {self._passed()} before an answer")
                if resp.status_code < 500 or attempt == self.limits.attempts:
                    return resp
                resp.close()
            time.sleep(min(self.limits.retry_pause_s * attempt, max(0.0, left / 2)))
        raise AssertionError("unreachable")

    def _passed(self) -> str:
        if self._sync_deadline is not None and time.monotonic() >= self._sync_deadline:
            return f"sync deadline ({self.limits.sync_deadline_s:g} s) passed"
        return f"deadline ({self.limits.file_deadline_s:g} s per file) passed"

    def _chunks(
        self, resp: requests.Response, url: str, deadline: float
    ) -> Generator[bytes, None, None]:
        # Errors raised while this generator runs are not wrapped by FetcherInterface.fetch():
        # convert them here so only DownloadError leaves.
        try:
            while True:
                if time.monotonic() > deadline or self.guard.tripped:
                    raise SlowRetrievalError(f"{url}: dropped, {self._passed()}")
                chunk = resp.raw.read1(self.limits.chunk_bytes, decode_content=True)
                if self.guard.tripped:  # the guard shut the socket: a short read, not the end
                    raise SlowRetrievalError(f"{url}: dropped, {self._passed()}")
                if not chunk:
                    return
                self.bytes += len(chunk)
                yield chunk
        except urllib3.exceptions.ReadTimeoutError as e:
            raise SlowRetrievalError(f"{url}: no data for {self.limits.read_timeout_s} s") from e
        except (urllib3.exceptions.HTTPError, OSError) as e:
            if self.guard.tripped:
                raise SlowRetrievalError(f"{url}: dropped, {self._passed()}") from e
            raise DownloadError(f"{url}: connection failed mid-file: {e}") from e
        finally:
            self.guard.disarm()
            resp.close()
