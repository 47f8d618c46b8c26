"""Which fields of a document a report reads, and whether its schema declares each of them.

:func:`traced` wraps a parsed JSON document in dict and list subclasses that record every key
read (``d[k]``, ``d.get(k)``, ``k in d``, iteration); :func:`undeclared` lists the recorded
paths that the document's JSON Schema does not declare. A report that builds its context and
renders its HTML from the traced document shows, with an empty list, that it reads no field
outside its written contract.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from validation.schema import load_schema


class _Reads:
    def __init__(self) -> None:
        self.paths: set[str] = set()


class TracedDict(dict):
    """A dict that records each key read, as a dotted path (lists as ``[]``)."""

    def __init__(self, data: Mapping[str, Any], path: str, reads: _Reads) -> None:
        super().__init__(data)
        self._path, self._reads = path, reads

    def _at(self, key: Any) -> str:
        # a key may hold dots (a version "1.1.0"): escape them so that the path splits right
        key = str(key).replace(".", "\\.")
        return f"{self._path}.{key}" if self._path else key

    def __getitem__(self, key: Any) -> Any:
        self._reads.paths.add(self._at(key))
        return _wrap(super().__getitem__(key), self._at(key), self._reads)

    def get(self, key: Any, default: Any = None) -> Any:
        self._reads.paths.add(self._at(key))
        return self[key] if super().__contains__(key) else default

    def __contains__(self, key: object) -> bool:
        self._reads.paths.add(self._at(key))
        return super().__contains__(key)

    def __iter__(self) -> Iterator[Any]:
        for key in super().__iter__():
            self._reads.paths.add(self._at(key))
            yield key

    def keys(self) -> Any:  # type: ignore[override]
        return list(iter(self))

    def items(self) -> Any:  # type: ignore[override]
        return [(k, self[k]) for k in iter(self)]

    def values(self) -> Any:  # type: ignore[override]
        return [self[k] for k in iter(self)]


class TracedList(list):
    """A list whose items record their reads under the list's path with ``[]``."""

    def __init__(self, data: list[Any], path: str, reads: _Reads) -> None:
        super().__init__(_wrap(item, f"{path}[]", reads) for item in data)


def _wrap(value: Any, path: str, reads: _Reads) -> Any:
    if isinstance(value, TracedDict | TracedList):
        return value
    if isinstance(value, Mapping):
        return TracedDict(value, path, reads)
    if isinstance(value, list):
        return TracedList(value, path, reads)
    return value


def traced(document: Mapping[str, Any]) -> tuple[TracedDict, set[str]]:
    """A recording copy of ``document`` and the (live) set of the paths read from it."""
    reads = _Reads()
    return TracedDict(document, "", reads), reads.paths


Node = tuple[Mapping[str, Any], Mapping[str, Any]]  # (subschema, the schema file it is in)


def _resolve(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Node:
    """Follow ``$ref`` (within the file, or to another schema file of validation/schemas)."""
    while "$ref" in schema:
        ref = str(schema["$ref"])
        target_file, _, pointer = ref.partition("#")
        if target_file:
            root = load_schema(target_file.removesuffix(".schema.json"))
        target: Any = root
        for part in [p for p in pointer.split("/") if p]:
            target = target[part]
        schema = target
    return schema, root


def _branches(schema: Mapping[str, Any], root: Mapping[str, Any]) -> list[Node]:
    """``schema`` and every subschema it combines (allOf / anyOf / oneOf / if-then-else)."""
    schema, root = _resolve(schema, root)
    out = [(schema, root)]
    for key in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(key, []):
            out += _branches(sub, root)
    for key in ("then", "else"):
        if key in schema:
            out += _branches(schema[key], root)
    return out


def _types(schema: Mapping[str, Any]) -> list[str]:
    kind = schema.get("type", [])
    return [kind] if isinstance(kind, str) else list(kind)


def _child(schema: Mapping[str, Any], root: Mapping[str, Any], key: str) -> list[Node] | None:
    """The subschemas that declare ``key`` (``[]`` for an array's items), or None if none does.

    A key is declared by ``properties``, a matching ``patternProperties``, or an
    ``additionalProperties`` schema; an object schema that lists no properties at all and does
    not forbid others is free-form (everything under it is declared).
    """
    found: list[Node] = []
    free = False
    for branch, here in _branches(schema, root):
        if key == "[]":
            for items_key in ("items", "prefixItems"):
                items = branch.get(items_key)
                if isinstance(items, list):
                    found += [(i, here) for i in items]
                elif isinstance(items, Mapping):
                    found.append((items, here))
            continue
        if key in branch.get("properties", {}):
            found.append((branch["properties"][key], here))
        found += [
            (sub, here)
            for pattern, sub in branch.get("patternProperties", {}).items()
            if re.search(pattern, key)
        ]
        extra = branch.get("additionalProperties")
        if isinstance(extra, Mapping):
            found.append((extra, here))
        elif extra is True or (
            "object" in _types(branch) and "properties" not in branch and extra is not False
        ):
            free = True
    if free:
        found.append(({}, root))
    return found or None


def undeclared(paths: set[str], schema: Mapping[str, Any]) -> list[str]:
    """The paths among ``paths`` that ``schema`` does not declare, sorted."""
    missing = []
    for path in sorted(paths):
        parts = [p.replace("\\.", ".") for p in re.split(r"(?<!\\)\.|(?=\[\])", path) if p]
        level: list[Node] = [(schema, schema)]
        for part in parts:
            subs = [c for s, root in level if (c := _child(s, root, part)) is not None]
            if not subs:
                missing.append(path)
                break
            level = [node for group in subs for node in group]
            if any(not _resolve(s, root)[0] for s, root in level):  # {}: free-form below
                break
    return missing
