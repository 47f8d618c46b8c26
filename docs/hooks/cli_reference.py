"""MkDocs hook: the command-line page is generated from the code, so it cannot drift from it.

``docs/cli.md`` holds two markers that this hook replaces at build time:

- ``<!-- mval:commands -->``: every ``mval`` subcommand with its one-line help, then each one's
  ``--help`` text, taken from :func:`validation.cli.build_parser` (what ``mval --help`` prints).
- ``<!-- mval:exit-codes -->``: the exit codes, taken from the exception classes of
  :mod:`validation.exceptions` (each class's ``exit_code`` and the first line of its docstring).

It also checks that the exit-code summary in the docstring of :mod:`validation.cli` names every
code, and fails the strict build (a warning) when it does not.
"""

from __future__ import annotations

import argparse
import inspect
import logging
import os
import re
import sys
from collections.abc import Iterator

log = logging.getLogger("mkdocs.hooks.cli_reference")

COMMANDS = "<!-- mval:commands -->"
EXIT_CODES = "<!-- mval:exit-codes -->"
HELP_WIDTH = "100"


def _subcommands(
    parser: argparse.ArgumentParser, words: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], str, argparse.ArgumentParser]]:
    """Yield (words, one-line help, parser) for every subcommand, depth first, in parser order."""
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
        for name, child in action.choices.items():
            yield (*words, name), helps.get(name, ""), child
            yield from _subcommands(child, (*words, name))


def _cell(text: str) -> str:
    """Plain text made safe for a Markdown table cell (no HTML tags, no column breaks)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")


def commands_markdown() -> str:
    """The command table and every subcommand's ``--help`` text, as Markdown."""
    from validation.cli import build_parser

    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = HELP_WIDTH  # argparse wraps help text to the terminal's width
    try:
        parser = build_parser()
        entries = list(_subcommands(parser))
        rows = ["| command | what |", "| --- | --- |"]
        rows += [f"| `mval {' '.join(words)}` | {_cell(text)} |" for words, text, _ in entries]
        parts = ["\n".join(rows), "### `mval --help`", f"```text\n{parser.format_help()}```"]
        for words, _, child in entries:
            parts.append(f"### `mval {' '.join(words)}`")
            parts.append(f"```text\n{child.format_help()}```")
    finally:
        if previous is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = previous
    return "\n\n".join(parts)


def exit_codes() -> list[tuple[int, str, str]]:
    """(code, exception classes, meaning) for every exit status of ``mval``, in code order."""
    from validation import exceptions

    base = exceptions.ValidationToolkitError
    classes = [
        cls
        for _, cls in inspect.getmembers(exceptions, inspect.isclass)
        if issubclass(cls, base) and cls.__module__ == exceptions.__name__
    ]
    by_code: dict[int, list[type]] = {}
    for cls in sorted(classes, key=lambda c: len(c.__mro__)):  # a base before its subclasses
        by_code.setdefault(cls.exit_code, []).append(cls)
    rows = [(0, "", "success")]
    for code, members in sorted(by_code.items()):
        names = ", ".join(f"[`{cls.__name__}`][{cls.__module__}.{cls.__name__}]" for cls in members)
        meaning = " ".join(inspect.getdoc(members[0]).split("\n\n")[0].split())
        if code == 1:
            meaning = "An unexpected error: an exception that is not one of the toolkit's (a bug)."
        if code == 2:
            meaning += " A command line that `mval` cannot parse also exits with 2 (argparse)."
        rows.append((code, names, meaning))
    rows.append(
        (
            exceptions.ALARM_EXIT,
            "",
            "`mval monitor run` raised a surveillance alarm: not an error, its outputs are written "
            "(`--alarm-exit-code` changes the status; the workflow passes 0, so inside Snakemake "
            "an alarm is not a failure).",
        )
    )
    return sorted(rows)


def exit_codes_markdown() -> str:
    rows = ["| code | raised as | meaning |", "| --- | --- | --- |"]
    rows += [f"| {code} | {names} | {_cell(text)} |" for code, names, text in exit_codes()]
    return "\n".join(rows)


def check_cli_docstring() -> None:
    """Warn when the exit-code summary of ``validation.cli`` misses a code."""
    import validation.cli

    summary = validation.cli.__doc__ or ""
    named = {int(n) for n in re.findall(r"(?<![\d.])(\d{1,2}) [a-z`]", summary)}
    missing = sorted({code for code, _, _ in exit_codes()} - named)
    if missing:
        log.warning(
            "the exit-code summary in the docstring of validation/cli.py misses code(s) %s "
            "(validation/exceptions.py defines them)",
            ", ".join(map(str, missing)),
        )


def on_config(config):
    """Import ``validation`` from the tree being built, not from wherever it is installed."""
    root = os.path.dirname(os.path.abspath(config.config_file_path))
    if root not in sys.path:
        sys.path.insert(0, root)
    return config


def on_page_markdown(markdown: str, page, config, files) -> str:
    if COMMANDS in markdown:
        markdown = markdown.replace(COMMANDS, commands_markdown())
    if EXIT_CODES in markdown:
        check_cli_docstring()
        markdown = markdown.replace(EXIT_CODES, exit_codes_markdown())
    return markdown
