"""``python -m coldseal`` runs the command-line interface."""

from coldseal._cli import run

# Guarded: Dask's worker processes start by spawning, which imports this module again.
if __name__ == "__main__":
    run()
