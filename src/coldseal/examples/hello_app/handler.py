"""A Lambda-style handler: the kind of code coldseal seals and verifies."""

from __future__ import annotations

import json
from typing import Any

from greetings import render


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    """Greet the caller named in the event, in the language it asks for."""
    del context
    name = str(event.get("name", "world"))
    language = str(event.get("language", "en"))
    body = render(name, language)
    return {"statusCode": 200, "headers": {"content-type": "text/plain"}, "body": json.dumps(body)}
