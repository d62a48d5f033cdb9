"""The ``gutaxis`` command line: a thin face over the Python API (no science lives here).

One module per capability registers its commands on the shared Typer :data:`app`; the import
order below is the order ``gutaxis --help`` lists them in (measure, link, simulate, act).
"""

from . import measure  # noqa: F401, I001  (demo, report, reference, datasets)
from . import diversity  # noqa: F401  (diversity)
from . import link_associate  # noqa: F401  (associate)
from . import link_linda  # noqa: F401  (linda)
from . import link_stats  # noqa: F401  (permanova, meta)
from . import simulate  # noqa: F401  (simulate)
from . import lifestyle  # noqa: F401  (plan, food, diet, insights)
from . import classify  # noqa: F401  (classify)
from . import atlas  # noqa: F401  (atlas)
from . import web  # noqa: F401  (serve)
from . import web_rights  # noqa: F401  (import-account)
from . import web_admin  # noqa: F401  (admin backup, admin restore)
from ._app import app

__all__ = ["app"]
