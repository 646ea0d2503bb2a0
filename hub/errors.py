"""Error answers that can always be rendered: a refused request is a 4xx, never a 500.

FastAPI's own 422 answer echoes the refused input; a lone surrogate or a NaN in it cannot be
encoded as JSON, so the answer itself failed with 500. Here a 422 names where and why, never
what was sent.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from kiosk.fleet.records import clean_text


def problems(errors: list[object]) -> list[dict[str, object]]:
    """pydantic's errors as {"loc", "msg", "type"} with every string safe to encode."""
    out: list[dict[str, object]] = []
    for e in errors[:20]:
        if not isinstance(e, dict):
            continue
        loc = [p if isinstance(p, int) else clean_text(str(p), 64) for p in e.get("loc", ())]
        out.append(
            {
                "loc": loc,
                "msg": clean_text(str(e.get("msg", "")), 300),
                "type": clean_text(str(e.get("type", "")), 64),
            }
        )
    return out


def unprocessable(error: ValidationError | RequestValidationError) -> JSONResponse:
    return JSONResponse({"detail": problems(list(error.errors()))}, status_code=422)


def install(app: FastAPI) -> None:
    async def on_invalid(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return unprocessable(exc)

    app.add_exception_handler(RequestValidationError, on_invalid)
