"""The ``gutaxis`` command line: a thin face over the Python API (no science lives here).

One module per capability registers its commands on the shared Typer :data:`app`.
"""

from . import lifestyle  # noqa: F401  (registers plan, food, diet, insights)
from . import link_associate  # noqa: F401  (registers associate)
from . import link_stats  # noqa: F401  (registers permanova, meta)
from . import measure  # noqa: F401  (registers demo, report, reference, datasets)
from ._app import app

__all__ = ["app"]
