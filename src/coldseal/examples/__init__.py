"""Sample inputs shipped with coldseal for the demo command and the self-check."""

from __future__ import annotations

from pathlib import Path

HELLO_APP = Path(__file__).resolve().parent / "hello_app"
