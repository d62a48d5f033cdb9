"""Write the API reference's source pages from the package's public names (called by conf.py)."""

from __future__ import annotations

import importlib
from pathlib import Path

#: (title, module, what it is) — the top-level API and the capability packages with their own ``__all__``
SECTIONS = [
    ("Top level", "gutaxis", "Readers, measures of gut health, links to conditions, reports and datasets."),
    ("Lifestyle", "gutaxis.lifestyle", "Diet, stress and symptom logs; scores; the personal plan."),
    ("Classify", "gutaxis.classify", "Leak-free disease classifiers with cross-study validation."),
    ("Plots", "gutaxis.pl", "PCoA coloured by a column, volcano and heatmap of associations, the shared palette."),
]


def public_names(module: str) -> list[str]:
    mod = importlib.import_module(module)
    names = [n for n in getattr(mod, "__all__", []) if not n.startswith("_") and n != "__version__"]
    keep = []
    for n in names:
        obj = getattr(mod, n)
        if callable(obj):  # functions and classes; constants are described in the guides
            keep.append(n)
    return sorted(keep, key=str.lower)


def write_api_pages(folder: Path) -> None:
    folder.mkdir(exist_ok=True)
    lines = ["API reference", "=============", "",
             "Every public function and class, generated from its docstring.", "",
             ".. toctree::", "   :maxdepth: 1", ""]
    for title, module, _ in SECTIONS:
        lines.append(f"   {module.replace('.', '_')}")
        body = [title, "=" * len(title), "", SECTIONS[[s[1] for s in SECTIONS].index(module)][2], "",
                f".. currentmodule:: {module}", "", ".. autosummary::", "   :toctree: generated", ""]
        body += [f"   {n}" for n in public_names(module)]
        _write(folder / f"{module.replace('.', '_')}.rst", "\n".join(body) + "\n")
    _write(folder / "index.rst", "\n".join(lines) + "\n")


def _write(path: Path, text: str) -> None:
    if not path.exists() or path.read_text() != text:  # unchanged pages keep their mtime (incremental builds)
        path.write_text(text)
