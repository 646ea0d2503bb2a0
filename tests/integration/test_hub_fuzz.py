"""Schemathesis drives the hub's own OpenAPI schema against the real hub (uvicorn), as the
admin, as an enrolled booth and as a stranger: no answer is a 5xx, and every answer matches
the schema.

Generation is widened beyond what schemathesis sends by itself (standard JSON, modest numbers):
half the JSON bodies get one value swapped for a hostile fragment, written into the raw bytes
(NaN, infinities, 400- and 5000-digit numbers, lone surrogates, 70 kB strings, deep nesting).
The pages, outside the schema, are fuzzed too: the login form with random bytes and the same
fragments, and the dashboard's one query parameter as a logged-in admin. The counts are printed.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.hubproc import HubProcess, init_hub_data

EXAMPLES = 90  # per operation and caller: ~2,450 requests in about 80 s here
SENTINEL = "__hostile_value__"
HOSTILE = [
    "NaN",
    "Infinity",
    "-Infinity",
    "1e999",
    "-1e999",
    "1e-400",
    "1" + "0" * 400,
    "-" + "9" * 5000,  # past Python's int-parsing limit
    str(2**63),
    str(-(2**63) - 1),
    '"\\ud800"',
    '"x\\udfffy"',
    '"\\u0000"',
    '"' + "x" * 70_000 + '"',
    "[" * 5000 + "]" * 5000,
    '{"a":' * 2000 + "1" + "}" * 2000,
    "true",
    "null",
    "{}",
    "[]",
]


@pytest.fixture(scope="module")
def fuzz_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    tmp = tmp_path_factory.mktemp("fuzz")
    data = init_hub_data(tmp / "hub-data", tmp / "keys")
    with HubProcess(data, module="tests.fuzz_hub") as hub:
        yield hub


def callers(hub: HubProcess) -> dict[str, dict[str, str]]:
    admin = {"Authorization": f"Bearer {hub.token}"}
    made = requests.post(f"{hub.url}/api/v1/booths", json={"group": "g"}, headers=admin, timeout=5)
    enrolled = requests.post(
        f"{hub.url}/api/v1/enroll", json={"token": made.json()["token"]}, timeout=5
    )
    booth = {"Authorization": f"Bearer {enrolled.json()['credential']}"}
    return {"admin": admin, "booth": booth, "anonymous": {}}


def paths_in(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place in a JSON value (the value itself too)."""
    yield path
    if isinstance(value, dict):
        for k, v in value.items():
            yield from paths_in(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from paths_in(v, (*path, i))


def swapped(value: Any, path: tuple[Any, ...], fragment: str) -> bytes:
    """`value` as JSON with the value at `path` replaced by the raw `fragment`."""
    if not path:
        return fragment.encode()
    copy = json.loads(json.dumps(value))
    inner = copy
    for step in path[:-1]:
        inner = inner[step]
    inner[path[-1]] = SENTINEL
    return json.dumps(copy).replace(json.dumps(SENTINEL), fragment, 1).encode()


FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,  # the same requests every run: a failure here is reproducible
    phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
)


def fuzz(
    operation: Any,
    url: str,
    headers: dict[str, str],
    session: requests.Session,
    caller: str,
    sent: Counter[str],
    failures: list[str],
) -> None:
    """EXAMPLES generated requests to one operation as one caller."""
    cases = st.one_of(
        operation.as_strategy(schemathesis.GenerationMode.POSITIVE),
        operation.as_strategy(schemathesis.GenerationMode.NEGATIVE),
    )

    @FUZZ
    @given(case=cases, data=st.data())
    def run(case: Any, data: st.DataObject) -> None:
        kwargs = case.as_transport_kwargs(base_url=url, headers=headers)
        body = kwargs.pop("json", None)
        if body is not None:
            kwargs["data"] = json.dumps(body).encode()
            if data.draw(st.booleans(), label="hostile"):
                where = data.draw(st.sampled_from(list(paths_in(body))), label="where")
                fragment = data.draw(st.sampled_from(HOSTILE), label="fragment")
                kwargs["data"] = swapped(body, where, fragment)
            kwargs.setdefault("headers", {})["Content-Type"] = "application/json"
        response = session.request(**kwargs, timeout=30)
        sent[caller] += 1
        try:
            case.validate_response(
                response, checks=[not_a_server_error, response_schema_conformance]
            )
        except (Exception, BaseExceptionGroup) as e:  # schemathesis' FailureGroup
            failures.append(f"{caller} {operation.label}: {e}"[:2000])

    run()


def test_no_5xx_and_every_answer_matches_the_schema(
    fuzz_hub: HubProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    schema = schemathesis.openapi.from_url(f"{fuzz_hub.url}/openapi.json")
    who = callers(fuzz_hub)
    sent: Counter[str] = Counter()
    failures: list[str] = []
    session = requests.Session()
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # an Err raises here: the schema is bad
        for caller, headers in who.items():
            fuzz(operation, fuzz_hub.url, headers, session, caller, sent, failures)
    with capsys.disabled():
        print(f"\nschemathesis: {sum(sent.values())} requests {dict(sent)}", flush=True)
    assert not failures, "\n\n".join(failures[:5])
    assert requests.get(f"{fuzz_hub.url}/healthz", timeout=5).status_code == 200


@FUZZ
@given(form=st.one_of(st.binary(max_size=2000), st.sampled_from([h.encode() for h in HOSTILE])))
def test_the_login_form_takes_any_bytes(fuzz_hub: HubProcess, form: bytes) -> None:
    for body in (form, b"token=" + form):
        resp = requests.post(
            f"{fuzz_hub.url}/login",
            data=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            timeout=10,
            allow_redirects=False,
        )
        assert resp.status_code < 500, resp.text


@pytest.fixture(scope="module")
def admin_browser(fuzz_hub: HubProcess) -> Iterator[requests.Session]:
    """A session logged in to the pages, as the admin's browser would be."""
    with requests.Session() as session:
        session.post(
            f"{fuzz_hub.url}/login",
            data={"token": fuzz_hub.token},
            headers={"Origin": fuzz_hub.url},
            timeout=10,
        )
        yield session


@FUZZ
@given(
    days=st.one_of(
        st.integers(),
        st.text(max_size=40),
        st.sampled_from(["NaN", "1e999", "9" * 5000, "-1", "0", "366", "367", "1.5"]),
    )
)
def test_the_pages_take_any_query(
    fuzz_hub: HubProcess, admin_browser: requests.Session, days: int | str
) -> None:
    """The pages are outside the schema: their one parameter, fuzzed as a logged-in admin."""
    for page in ("/dashboard", "/dashboard/clips"):
        resp = admin_browser.get(f"{fuzz_hub.url}{page}", params={"days": days}, timeout=10)
        assert resp.status_code < 500 and resp.url.split("?")[0].endswith(page), resp.text
