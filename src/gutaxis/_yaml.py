"""One safe YAML loader for files gutaxis did not write (QIIME 2 ``metadata.yaml``, scenarios).

``yaml.safe_load`` builds only plain values, but a few hundred bytes can still cost gigabytes or
minutes, and a repeated key silently replaces the first. :func:`load_yaml` refuses, before anything
is built (one pass over the parser's events, libyaml's parser where installed):

* text larger than ``max_bytes`` (UTF-8);
* aliases (``*name``, which repeat an ``&anchor``): nested ones expand a small file into gigabytes
  ("billion laughs"); an anchor no alias uses changes nothing and is allowed;
* lists and mappings nested more than ``max_depth`` deep;

and while it builds the value: a key given twice in one mapping, and a key that is a list or
mapping. These, a YAML syntax error, and a value that does not fit its ``!!tag`` are each an
:class:`~gutaxis.errors.InputError` of one short line naming the line of the text. The caller words
them: ``messages`` and ``hints`` replace the defaults of :data:`MESSAGES` per kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

from .errors import InputError

__all__ = ["MAX_DEPTH", "MESSAGES", "load_yaml"]

#: Default deepest nesting of lists and mappings.
MAX_DEPTH = 50

#: Message of each refusal (``str.format`` fields: ``what`` always; ``limit`` and ``size`` for
#: "size"; ``anchor`` and ``line`` for "alias"; ``limit`` and ``line`` for "depth"; ``key`` and
#: ``line`` for "duplicate"; ``line`` for "key"; ``error`` (the exception's type) and ``detail``
#: (its text, cut short) for "syntax" and "value").
MESSAGES: Mapping[str, str] = {
    "size": "{what} is larger than {limit} bytes ({size} bytes)",
    "alias": "{what} uses a YAML alias ('*{anchor}', line {line}); aliases are not allowed: nested ones "
    "expand a few hundred bytes into gigabytes",
    "depth": "{what} nests more than {limit} levels deep (line {line})",
    "duplicate": "{what} gives the key {key} twice (line {line})",
    "key": "{what} has a list or mapping as a key (line {line})",
    "syntax": "{what} is not valid YAML: {detail}",
    "value": "{what} is not valid YAML: {error}: {detail}",
}


class _Refused(Exception):
    """Raised inside the loader: ``kind`` of :data:`MESSAGES`, the node's mark, the key."""

    def __init__(self, kind: str, mark, key=None):
        super().__init__(kind)
        self.kind, self.line, self.key = kind, _line(mark), key


def _line(mark) -> int | str:
    return mark.line + 1 if mark is not None else "?"


def _cut(value: object, n: int) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= n else text[: n - 3] + "..."


def _key_text(key) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    return _cut(repr(key), 60)


@cache
def _strict_loader(base):
    """``base`` (a safe loader) that refuses duplicate keys and keys that are lists or mappings."""
    import yaml

    class StrictLoader(base):
        def construct_mapping(self, node, deep=False):
            if not isinstance(node, yaml.MappingNode):
                raise yaml.constructor.ConstructorError(
                    None, None, f"expected a mapping, found {node.id}", node.start_mark
                )
            self.flatten_mapping(node)
            mapping = {}
            for key_node, value_node in node.value:
                key = self.construct_object(key_node, deep=deep)
                try:
                    hash(key)
                except TypeError:
                    raise _Refused("key", key_node.start_mark) from None
                if key in mapping:
                    raise _Refused("duplicate", key_node.start_mark, key)
                mapping[key] = self.construct_object(value_node, deep=deep)
            return mapping

    # the safe loader's constructors of mappings (and sets) call construct_mapping above
    return StrictLoader


def load_yaml(
    text: str,
    *,
    source,
    what: str = "the YAML",
    max_bytes: int | None = None,
    max_depth: int = MAX_DEPTH,
    messages: Mapping[str, str] | None = None,
    hints: Mapping[str, str | None] | None = None,
    hint: str | None = None,
):
    """The value of one YAML document, read safely (see the module docstring).

    ``source``: the file named by the InputError; ``what``: the document in the messages;
    ``messages``/``hints``: the caller's wording per kind (:data:`MESSAGES`), ``hint`` for the kinds
    ``hints`` does not name.
    """
    import yaml

    wording = {**MESSAGES, **(messages or {})}

    def refuse(kind: str, **fields) -> InputError:
        return InputError(wording[kind].format(what=what, **fields), source=source, hint=(hints or {}).get(kind, hint))

    if max_bytes is not None and len(text) * 4 > max_bytes:  # below that, no text can exceed it
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > max_bytes:
            raise refuse("size", limit=max_bytes, size=size)
    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        depth = 0
        for event in yaml.parse(text, Loader=base):
            if isinstance(event, yaml.AliasEvent):
                raise refuse("alias", anchor=_cut(event.anchor, 40), line=_line(event.start_mark))
            if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                depth += 1
                if depth > max_depth:
                    raise refuse("depth", limit=max_depth, line=_line(event.start_mark))
            elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                depth -= 1
        return yaml.load(text, Loader=_strict_loader(base))  # a SafeLoader subclass
    except InputError:
        raise
    except _Refused as exc:
        raise refuse(exc.kind, line=exc.line, key=_key_text(exc.key)) from None
    except RecursionError:
        raise refuse("syntax", error="RecursionError", detail="nested too deeply") from None
    except yaml.YAMLError as exc:
        if "nesting depth" in str(getattr(exc, "problem", "")):  # libyaml's own limit (1000), met scanning ahead
            raise refuse("depth", limit=max_depth, line=_line(getattr(exc, "problem_mark", None))) from None
        raise refuse("syntax", error=type(exc).__name__, detail=_cut(exc, 200)) from None
    except Exception as exc:
        raise refuse("value", error=type(exc).__name__, detail=_cut(exc, 120)) from None
