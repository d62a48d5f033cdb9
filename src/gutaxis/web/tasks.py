"""The job handlers, imported by the worker and by inline runs: each module registers its own."""

from __future__ import annotations

from . import rights, tasks_import, tasks_patterns, tasks_plan, tasks_upload  # noqa: F401 (register handlers)
