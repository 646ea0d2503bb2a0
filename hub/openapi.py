"""What the OpenAPI schema says of the routes that read their bodies raw (uploads, publish),
so the schema states every body the hub takes, with its bounds, and a fuzzer reaches them."""

from __future__ import annotations

from typing import Any

from hub.bodylimit import PUBLISH_BODY_BYTES
from hub.settings import Settings


def upload(settings: Settings) -> dict[str, Any]:
    """PUT /api/v1/targets/{path}: the target's bytes, at most max_upload_bytes."""
    schema = {"type": "string", "format": "binary", "maxLength": settings.max_upload_bytes}
    return {
        "requestBody": {
            "required": True,
            "content": {"application/octet-stream": {"schema": schema}},
        }
    }


PUBLISH: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": f"signed TUF targets metadata, at most {PUBLISH_BODY_BYTES} bytes",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["signed", "signatures"],
                    "properties": {
                        "signed": {"type": "object"},
                        "signatures": {"type": "array", "items": {"type": "object"}},
                    },
                }
            }
        },
    }
}
