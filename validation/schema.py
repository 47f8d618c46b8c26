"""Load YAML files and validate them against the JSON schemas shipped in ``validation/schemas``.

A schema's ``default`` keywords are the only place a default of the file it describes is
written: :func:`validate` with ``defaults=True`` fills them in, and :func:`schema_default` hands
one of them to code that needs it without a file (a command-line option's default, a settings
dataclass).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from validation.exceptions import ConfigError, ValidationToolkitError


@cache
def load_schema(name: str) -> dict[str, Any]:
    """Return the JSON schema ``validation/schemas/<name>.schema.json``."""
    # the folder, not the package validation.schemas: reading a schema imports nothing else
    text = resources.files("validation").joinpath("schemas", f"{name}.schema.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


def load_yaml(path: str | Path, *, error: type[ValidationToolkitError] = ConfigError) -> Any:
    """Read a YAML file, turning a missing file or a syntax error into ``error``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{path}: file not found") from None
    except OSError as exc:
        raise error(f"{path}: cannot be read ({exc.strerror})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise error(f"{path}: malformed YAML{where}: {problem}") from None


def validate(
    instance: Any,
    schema_name: str,
    *,
    source: str | Path,
    error: type[ConfigError] = ConfigError,
    defaults: bool = False,
) -> None:
    """Validate ``instance`` against a named schema; report every problem with its location.

    Parameters
    ----------
    instance : Any
        The parsed file (a dict for every shipped schema).
    schema_name : str
        ``<name>`` of ``validation/schemas/<name>.schema.json``.
    source : str or Path
        What to call the instance in messages (its file).
    error : type of ConfigError, default ConfigError
        The exception to raise.
    defaults : bool, default False
        Fill in, in place, every property the instance leaves out that has a ``default`` in
        the schema, in nested objects too (an object left out that has a default, often ``{}``,
        is added and then filled in itself). Defaults inside ``anyOf``/``oneOf`` branches are
        not used (a branch that fails would still have written its defaults).

    Raises
    ------
    ConfigError (or the given subclass)
        Listing each violation as ``<file>: <json path>: <message>``.

    Examples
    --------
    >>> config = {"protocol": "protocols/demo.yaml", "sites": "sites"}
    >>> validate(config, "workflow-config", source="example", defaults=True)
    >>> config["inference"], config["lock"]
    ({'batch_size': 16, 'threads': 1}, {'required': True})
    """
    problems = schema_problems(instance, schema_name, defaults=defaults)
    if problems:
        lines = [f"{source}: {p.location}: {p.message}" for p in problems[:10]]
        more = f"\n(and {len(problems) - 10} more)" if len(problems) > 10 else ""
        raise error(
            f"{source} does not match the {schema_name} schema:\n" + "\n".join(lines) + more
        )


@dataclass(frozen=True)
class SchemaProblem:
    """One violation of a schema: where (``path`` from the top, and as text) and what."""

    path: tuple[str | int, ...]
    location: str
    message: str


def schema_problems(
    instance: Any, schema_name: str, *, defaults: bool = False
) -> list[SchemaProblem]:
    """Every violation of a named schema by ``instance``, in document order (no exception).

    Parameters
    ----------
    instance : Any
        The parsed file.
    schema_name : str
        ``<name>`` of ``validation/schemas/<name>.schema.json``.
    defaults : bool, default False
        Fill in defaults in place first, as :func:`validate` does.

    Returns
    -------
    list of SchemaProblem
        Empty when the instance matches.

    Examples
    --------
    >>> [p.location for p in schema_problems({"protocol": 1}, "workflow-config")]
    ['(top level)', 'protocol']
    """
    schema = load_schema(schema_name)
    validator = (_FillingValidator if defaults else jsonschema.Draft202012Validator)(schema)
    errors = sorted(
        validator.iter_errors(instance), key=lambda e: [str(p) for p in e.absolute_path]
    )
    return [SchemaProblem(tuple(e.absolute_path), _location(e), e.message) for e in errors]


def schema_default(schema_name: str, path: str) -> Any:
    """The ``default`` of the property at dotted ``path`` in a named schema (a fresh copy).

    Parameters
    ----------
    schema_name : str
        ``<name>`` of ``validation/schemas/<name>.schema.json``.
    path : str
        Property names from the top, joined by dots, e.g. ``"surveillance.arl0_months"``.

    Returns
    -------
    Any
        The default; for an object whose default is ``{}``, that object with its properties'
        defaults filled in.

    Raises
    ------
    KeyError
        When the schema has no such property or it has no default (a programming error).

    Examples
    --------
    >>> schema_default("workflow-config", "inference.batch_size")
    16
    """
    schema = load_schema(schema_name)
    for name in path.split("."):
        schema = schema.get("properties", {})[name]
    if "default" not in schema:
        raise KeyError(f"{schema_name} schema: {path} has no default")
    value = copy.deepcopy(schema["default"])
    if isinstance(value, dict):
        _FillingValidator(schema).validate(value)
    return value


def config_default(path: str) -> Any:
    """The workflow config's default for dotted ``path``, from ``workflow-config.schema.json``.

    Examples
    --------
    >>> config_default("surveillance.familywise_alpha"), config_default("demo.out")
    (0.05, 'data/demo')
    """
    return schema_default("workflow-config", path)


def _fill_defaults(
    validator: Any, properties: dict[str, Any], instance: Any, schema: dict[str, Any]
) -> Iterator[jsonschema.ValidationError]:
    """The ``properties`` keyword that first adds the missing properties' defaults."""
    if validator.is_type(instance, "object"):
        for name, subschema in properties.items():
            if name not in instance and "default" in subschema:
                instance[name] = copy.deepcopy(subschema["default"])
    yield from _PROPERTIES(validator, properties, instance, schema)


def _branches_without_defaults(keyword: str) -> Any:
    """``anyOf``/``oneOf`` checked on a copy: a branch that fails must not leave defaults."""
    check_branches = jsonschema.Draft202012Validator.VALIDATORS[keyword]

    def check(
        validator: Any, branches: list[Any], instance: Any, schema: dict[str, Any]
    ) -> Iterator[jsonschema.ValidationError]:
        yield from check_branches(validator, branches, copy.deepcopy(instance), schema)

    return check


_PROPERTIES = jsonschema.Draft202012Validator.VALIDATORS["properties"]
_FillingValidator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator,
    {
        "properties": _fill_defaults,
        "anyOf": _branches_without_defaults("anyOf"),
        "oneOf": _branches_without_defaults("oneOf"),
    },
)


def _location(problem: jsonschema.ValidationError) -> str:
    parts: list[str] = []
    for part in problem.absolute_path:
        parts.append(f"[{part}]" if isinstance(part, int) else (f".{part}" if parts else str(part)))
    return "".join(parts) or "(top level)"
