"""Scale-out on Dask: the same API on a laptop and on a cluster.

Pass ``client=`` (a :class:`dask.distributed.Client`, or a scheduler address such as
``"tcp://10.0.0.1:8786"``) to :func:`gutaxis.associate`, :func:`gutaxis.beta_diversity`,
:func:`gutaxis.permanova`, :func:`gutaxis.axis.engine.simulate`,
:func:`gutaxis.classify.cross_validate` or :func:`gutaxis.atlas.run_atlas`; ``None`` keeps the
single-machine path. Dask is an optional extra (``pip install "gutaxis[dask]"``): nothing here
imports it until a client is given. See ``docs/scale.md``.
"""

from __future__ import annotations

from .blocks import blocks, run_tasks
from .client import check_client, open_client

__all__ = ["blocks", "check_client", "open_client", "run_tasks"]
