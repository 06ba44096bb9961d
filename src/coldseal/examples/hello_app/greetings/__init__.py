"""Greetings rendered from small text templates shipped next to the code."""

from __future__ import annotations

from importlib import resources

SUPPORTED = ("en", "fr", "de")


def render(name: str, language: str = "en") -> str:
    """Render the greeting template for ``language`` with ``name`` filled in."""
    if language not in SUPPORTED:
        language = "en"
    template = resources.files(__package__).joinpath("templates", f"{language}.txt").read_text("utf-8")
    return template.strip().format(name=name)
