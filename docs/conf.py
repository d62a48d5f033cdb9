"""Sphinx configuration of the gutaxis documentation (built offline by `.ci/run` with warnings as errors).

The API reference is generated from the package's public names (``gutaxis.__all__`` and the
``__all__`` of the capability packages), so a new public function gets a page without editing
this file; tutorials are MyST notebooks executed at build time on the registry's datasets.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import gutaxis

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _api import write_api_pages  # noqa: E402  (a file beside this one)

project = "gutaxis"
author = "the gutaxis developers"
copyright = "2026, the gutaxis developers"
release = gutaxis.__version__
version = release.split("+")[0]

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_nb",
]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb"}
exclude_patterns = ["_build", "jupyter_execute", "**.ipynb_checkpoints", "README.md"]
root_doc = "index"

# API reference: one page per public name, written before the build reads the sources
write_api_pages(HERE / "api")
autosummary_generate = True
templates_path = ["_templates"]  # a class page shows the class's own docstring, not inherited methods' ones
autodoc_default_options = {"members": False}
autodoc_typehints = "none"  # numpydoc's Parameters sections say the types in words
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_validation_checks: set[str] = set()
numpydoc_xref_param_type = False

# tutorials: executed at build time; a cell that raises fails the build (nb_execution_raise_on_error)
nb_execution_mode = os.environ.get("GUTAXIS_DOCS_EXECUTE", "force")
nb_execution_timeout = 600
nb_execution_raise_on_error = True
nb_execution_show_tb = True
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

intersphinx_mapping: dict = {}  # offline build: no inventories fetched

html_theme = "pydata_sphinx_theme"
html_title = f"gutaxis {version}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "footer_start": ["copyright"],
}
html_static_path: list[str] = []
# the guides link to files of the repository (benchmarks, tests) that are not pages of the site
suppress_warnings = ["myst.xref_missing"]
# every Python cross-reference must resolve: a docstring naming an internal name with no page (a module constant,
# a private module) writes it as a literal (``FILTERS``), not as a role
nitpicky = True
# other libraries' classes: the build is offline (no intersphinx inventories), so their references cannot resolve
nitpick_ignore = [
    ("py:class", "dask.distributed.Client"),
    ("py:class", "sklearn.model_selection.StratifiedKFold"),
    ("py:class", "sklearn.model_selection.StratifiedGroupKFold"),
]
