"""The demo's record of what it wrote: it replaces only its own, unchanged files.

Every demo generator writes into its own output folder and, when done, records there what it
made (``<out>/.mval-demo.json``: the generator, its settings, and each written file's path
relative to the folder with its sha256). Before writing, :func:`claim` checks the folder:

* missing or empty (empty sub-folders aside): the generator may write;
* holding a complete record whose every file still has its recorded sha256, and no other file:
  the recorded files are removed, then the generator writes afresh;
* anything else refuses with :class:`~validation.exceptions.DemoOutputError`, naming the files
  in the way: a file the record does not list (the demo did not write it), a recorded file whose
  content changed since, a non-empty folder without a record, a record of another generator, or
  a record of a run that did not finish (its files were never recorded, so none can be vouched
  for).

Another generator's folder inside ``out`` (one holding its own record, as ``<out>/postmarket``)
belongs to that generator: it is neither checked, removed nor recorded here. :func:`claim` writes
an unfinished record before the generator writes anything (so a generator running meanwhile in
an enclosing folder sees whose folder this is), and :func:`seal` the complete one last.

Nothing outside ``out`` is ever read as the demo's, removed or written.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from validation.exceptions import DemoOutputError
from validation.hashing import sha256_file

#: The record's file name inside the output folder.
RECORD = ".mval-demo.json"
#: Files named in a refusal before it says "and N more".
_SHOWN = 20


def claim(out: str | Path, *, generator: str) -> Path:
    """Make ``out`` ready for ``generator``: remove its own unchanged files, or refuse.

    Parameters
    ----------
    out : str or Path
        The generator's output folder (created if missing).
    generator : str
        The generator's name, e.g. ``"validation.demo.generate"``; a record made by another
        generator is refused.

    Returns
    -------
    Path
        ``out``, holding no file but other generators' folders and an unfinished record.

    Raises
    ------
    DemoOutputError
        Naming every file in the way (see the module's description).
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise DemoOutputError(str(out), "it is a file, not a folder")
    record_path = out / RECORD
    found = _files(out) if out.exists() else []
    record = _read(record_path) if record_path.exists() else None
    if record is None:
        if found:
            raise DemoOutputError(
                str(out),
                f"the folder is not empty and holds no demo record ({RECORD}), so the demo did "
                f"not write {_count(found)}: {_names(found)}; choose an empty or new folder for "
                "the demo's output",
            )
    else:
        _check(out, record, found, generator)
        for name in found:  # every one recorded and unchanged (checked above)
            path = out / name
            path.unlink()
            _remove_empty_parents(path.parent, out)
    out.mkdir(parents=True, exist_ok=True)
    _write(record_path, {"generator": generator, "complete": False, "files": {}})
    return out


def seal(out: str | Path, *, generator: str, settings: dict[str, Any]) -> dict[str, Any]:
    """Record every file the generator wrote under ``out`` (after :func:`claim`); return it.

    The record holds no clock time, so the same settings give the same record byte for byte.
    """
    out = Path(out)
    files = {name: sha256_file(out / name) for name in _files(out)}
    record = {"generator": generator, "complete": True, "settings": settings, "files": files}
    _write(out / RECORD, record)
    return record


def _check(out: Path, record: dict[str, Any], found: list[str], generator: str) -> None:
    where = str(out)
    if record.get("generator") != generator:
        raise DemoOutputError(
            where,
            f"its record {RECORD} was written by {record.get('generator')!r}, not by "
            f"{generator!r}; give this generator a folder of its own",
        )
    if not record.get("complete"):
        raise DemoOutputError(
            where,
            f"an earlier run of {generator} into it did not finish ({RECORD} is unfinished), so "
            f"none of its {_count(found)} can be vouched for"
            + (f" ({_names(found)})" if found else "")
            + "; check the folder and remove it by hand, then generate again",
        )
    recorded: dict[str, str] = record["files"]
    foreign = [name for name in found if name not in recorded]
    changed = [
        name
        for name in found
        if name in recorded
        and ((out / name).is_symlink() or sha256_file(out / name) != recorded[name])
    ]
    problems = []
    if foreign:
        problems.append(f"it holds {_count(foreign)} the demo did not write: {_names(foreign)}")
    if changed:
        problems.append(
            f"{_count(changed)} the demo wrote changed since (sha256 differs from its record "
            f"{RECORD}): {_names(changed)}"
        )
    if problems:
        raise DemoOutputError(
            where,
            "; ".join(problems) + "; the demo replaces only its own unchanged files: move "
            "these away (or choose another folder) and generate again",
        )


def _files(out: Path) -> list[str]:
    """Paths (relative, POSIX) of every file under ``out`` but the record and other
    generators' folders; a symbolic link counts as a file and is never followed."""
    names = []
    for folder, dirs, files in os.walk(out):
        here = Path(folder)
        keep = []
        for name in sorted(dirs):
            path = here / name
            if path.is_symlink():
                files.append(name)
            elif not (path / RECORD).exists():
                keep.append(name)
        dirs[:] = keep
        for name in files:
            path = here / name
            if path != out / RECORD:
                names.append(path.relative_to(out).as_posix())
    return sorted(names)


def _remove_empty_parents(folder: Path, out: Path) -> None:
    while folder != out and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent


def _read(path: Path) -> dict[str, Any]:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DemoOutputError(
            str(path.parent), f"its record {RECORD} is unreadable: {exc}"
        ) from exc
    if not (
        isinstance(record, dict)
        and isinstance(record.get("files"), dict)
        and all(isinstance(v, str) for v in record["files"].values())
    ):
        raise DemoOutputError(
            str(path.parent), f"its record {RECORD} is not a demo record (no files mapping)"
        )
    return record


def _write(path: Path, record: dict[str, Any]) -> None:
    path.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _count(names: list[str]) -> str:
    return f"{len(names)} file" + ("" if len(names) == 1 else "s")


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:_SHOWN])
    return shown + (f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else "")
