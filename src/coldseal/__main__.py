"""``python -m coldseal`` runs the command-line interface."""

from coldseal._cli import run

run()
