"""Load YAML files and validate them against the JSON schemas shipped in ``validation/schemas``."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from validation.exceptions import ConfigError


@cache
def load_schema(name: str) -> dict[str, Any]:
    """Return the JSON schema ``validation/schemas/<name>.schema.json``."""
    text = resources.files("validation.schemas").joinpath(f"{name}.schema.json").read_text()
    return json.loads(text)


def load_yaml(path: str | Path, *, error: type[ConfigError] = ConfigError) -> Any:
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
    instance: Any, schema_name: str, *, source: str | Path, error: type[ConfigError] = ConfigError
) -> None:
    """Validate ``instance`` against a named schema; report every problem with its location.

    Raises
    ------
    ConfigError (or the given subclass)
        Listing each violation as ``<file>: <json path>: <message>``.
    """
    validator = jsonschema.Draft202012Validator(load_schema(schema_name))
    problems = sorted(
        validator.iter_errors(instance), key=lambda e: [str(p) for p in e.absolute_path]
    )
    if problems:
        lines = [f"{source}: {_location(p)}: {p.message}" for p in problems[:10]]
        more = f"\n(and {len(problems) - 10} more)" if len(problems) > 10 else ""
        raise error(
            f"{source} does not match the {schema_name} schema:\n" + "\n".join(lines) + more
        )


def _location(problem: jsonschema.ValidationError) -> str:
    parts = []
    for part in problem.absolute_path:
        parts.append(f"[{part}]" if isinstance(part, int) else (f".{part}" if parts else str(part)))
    return "".join(parts) or "(top level)"
