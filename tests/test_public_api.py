"""The public API is fully typed (issue 18): every function and class in ``gutaxis.__all__`` has
annotated parameters and returns that :func:`typing.get_type_hints` resolves, and the package
ships ``py.typed`` so that type checkers read those annotations.

Classes of other packages are forward references into their package (``gutaxis._typing``): they
resolve once that package is imported, as here. anndata is a dependency; the optional packages
are imported where installed, and where one is not, only a NameError for its own classes is
accepted.
"""

from __future__ import annotations

import importlib
import importlib.resources
import inspect
import typing
from collections.abc import Callable, Iterator
from typing import Any, ForwardRef

import anndata  # noqa: F401  (a dependency: AnnData resolves in its package)
import pytest

import gutaxis

# optional package -> the classes of it that gutaxis annotations name
OPTIONAL = {
    "skbio": ("DistanceMatrix", "TreeNode"),
    "distributed": ("Client",),
    "zarr": ("Array",),
    "matplotlib.figure": ("Figure",),
}
MISSING: set[str] = set()
for _module, _names in OPTIONAL.items():
    try:
        importlib.import_module(_module)
    except ImportError:
        MISSING.update(_names)


def _members(cls: type) -> Iterator[tuple[str, Callable[..., Any]]]:
    """The public methods of ``cls`` (and ``__init__``), staticmethods, classmethods and properties included."""
    for key, member in vars(cls).items():
        if key.startswith("_") and key != "__init__":
            continue
        if isinstance(member, (staticmethod, classmethod)):
            member = member.__func__
        elif isinstance(member, property):
            member = member.fget
        if inspect.isfunction(member):
            yield f"{cls.__name__}.{key}", member


def _public() -> list[tuple[str, Callable[..., Any]]]:
    out: list[tuple[str, Callable[..., Any]]] = []
    for name in gutaxis.__all__:
        obj = getattr(gutaxis, name)
        if inspect.isfunction(obj):
            out.append((name, obj))
        elif inspect.isclass(obj):
            out.extend(_members(obj))
    return out


PUBLIC = _public()
CLASSES = [name for name in gutaxis.__all__ if inspect.isclass(getattr(gutaxis, name))]


def _forward_refs(hint: object) -> list[ForwardRef]:
    """The forward references left unresolved anywhere inside ``hint``."""
    if isinstance(hint, ForwardRef):
        return [hint]
    return [ref for arg in typing.get_args(hint) for ref in _forward_refs(arg)]


def test_the_public_names_are_checked() -> None:
    functions = [name for name in gutaxis.__all__ if inspect.isfunction(getattr(gutaxis, name))]
    assert len(functions) >= 45  # the readers, measures, link, report and demo functions
    assert {"HealthyReference", "InputError"} <= set(CLASSES)
    assert {"HealthyReference.to_json", "HealthyReference.from_json", "HealthyReference.indices"} <= {
        name for name, _ in PUBLIC
    }


@pytest.mark.parametrize(("name", "func"), PUBLIC, ids=[name for name, _ in PUBLIC])
def test_every_parameter_and_return_is_annotated(name: str, func: Callable[..., Any]) -> None:
    sig = inspect.signature(func)
    missing = [
        p.name
        for p in sig.parameters.values()
        if p.annotation is inspect.Parameter.empty and p.name not in ("self", "cls")
    ]
    assert not missing, f"{name}: parameters without a type: {missing}"
    if func.__name__ != "__init__":
        assert sig.return_annotation is not inspect.Signature.empty, f"{name}: the return has no type"


@pytest.mark.parametrize(("name", "func"), PUBLIC, ids=[name for name, _ in PUBLIC])
def test_type_hints_resolve(name: str, func: Callable[..., Any]) -> None:
    try:
        hints = typing.get_type_hints(func)
    except NameError as exc:
        if exc.name in MISSING:
            pytest.skip(f"{name}: {exc.name} belongs to an optional package that is not installed")
        raise
    unresolved = {key: refs for key, hint in hints.items() if (refs := _forward_refs(hint))}
    assert not unresolved, f"{name}: unresolved forward references {unresolved}"


@pytest.mark.parametrize("name", CLASSES)
def test_class_annotations_resolve(name: str) -> None:
    typing.get_type_hints(getattr(gutaxis, name))


def test_py_typed_is_shipped() -> None:
    marker = importlib.resources.files("gutaxis") / "py.typed"
    assert marker.is_file(), "gutaxis/py.typed is missing from the installed package"
