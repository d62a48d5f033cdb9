"""``python -m gutaxis``: the same command line as the ``gutaxis`` console script."""

from .cli import app

if __name__ == "__main__":
    app(prog_name="gutaxis")
