"""Griffe extension for the API reference: numpydoc checks and Sphinx roles as links.

Loaded by mkdocstrings (``mkdocs.yml``, ``extensions``). It runs once per loaded package, before
any page renders, and does three things to every docstring of the package:

- It fails the strict build on a numpydoc section heading that griffe would not render as that
  section: a heading underlined with dashes whose title is not a numpydoc section (``Returnz``,
  ``Parameter``) would otherwise render silently as a box of plain text.
- It renders the reStructuredText that numpydoc uses (``:math:``, ``.. math::``, citations
  ``.. [1]``, ``text::`` literal blocks) as Markdown.
- It turns Sphinx cross-reference roles (``:func:`wilson_interval```, ``:class:`~x.Y```), which
  Markdown would show verbatim, into links to the object's entry in the reference, or into code
  when the object is outside the package. A role naming a ``validation.`` path that does not
  exist, or a bare name that is neither in scope nor a builtin, fails the build.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Iterator

import griffe

# The sections whose items start with a name and type at the section's indentation.
ITEM_SECTIONS = frozenset(
    {
        "parameters",
        "other parameters",
        "type parameters",
        "returns",
        "yields",
        "receives",
        "raises",
        "warns",
        "attributes",
        "functions",
        "methods",
        "classes",
        "type aliases",
        "modules",
    }
)
# Every section griffe's numpy parser reads, and those it renders as admonitions on purpose.
SECTIONS = ITEM_SECTIONS | {"deprecated", "examples", "notes", "references", "see also", "warnings"}

ROLE = re.compile(r":(?:py:)?(func|class|mod|meth|attr|data|exc|obj|const):`(~?)([^`<>]+)`")
MATH = re.compile(r":math:`([^`]+)`")
CITATION = re.compile(r"^(\s*)\.\. (\[[^\]]+\])\s")
MATH_DIRECTIVE = re.compile(r"^(\s*)\.\. math::\s*(.*)$")
DASHES = re.compile(r"^\s*-{3,}\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")


def _objects(obj: griffe.Object) -> Iterator[griffe.Object]:
    """Yield ``obj`` and every object defined (not imported) under it."""
    yield obj
    for member in obj.members.values():
        if not member.is_alias:
            yield from _objects(member)


def _where(obj: griffe.Object, line: int) -> str:
    start = obj.docstring.lineno if obj.docstring and obj.docstring.lineno else 0
    return f"{obj.relative_filepath}:{start + line}"


def _check_sections(obj: griffe.Object) -> None:
    lines = obj.docstring.value.splitlines()
    in_code = False
    for i, line in enumerate(lines[:-1]):
        if FENCE.match(line):
            in_code = not in_code
        title = line.strip()
        if in_code or not title or not DASHES.match(lines[i + 1]):
            continue
        if i > 0 and lines[i - 1].strip():
            griffe.logger.warning(
                "%s: docstring section %r of %s must follow an empty line to be read as a section",
                _where(obj, i),
                title,
                obj.path,
            )
        elif title.lower() not in SECTIONS:
            griffe.logger.warning(
                "%s: %r in the docstring of %s is not a numpydoc section (expected one of: %s)",
                _where(obj, i),
                title,
                obj.path,
                ", ".join(sorted(s.title() for s in SECTIONS)),
            )


def _target(obj: griffe.Object, name: str, package: griffe.Module) -> tuple[str | None, bool]:
    """What ``name`` means seen from ``obj``: (the canonical path of the package's object it
    names, or None outside the package; whether it names anything known there at all)."""
    name = name.strip().removesuffix("()")
    found: griffe.Object | griffe.Alias | None = None
    if name == package.name:
        found = package
    elif name.startswith(package.name + "."):
        try:
            found = package[name.removeprefix(package.name + ".")]
        except (KeyError, ValueError, griffe.AliasResolutionError):
            return None, False
    else:
        scope: griffe.Object | None = obj
        head, _, rest = name.partition(".")
        while scope is not None and found is None:
            candidate = scope.members.get(head)
            if candidate is not None:
                found = candidate
                if rest:
                    try:
                        found = candidate[rest]
                    except (KeyError, griffe.AliasResolutionError, ValueError):
                        found = None
            scope = scope.parent
    if found is None:
        return None, False
    try:
        path = found.final_target.path if found.is_alias else found.path
    except (griffe.AliasResolutionError, griffe.CyclicAliasError):
        return None, True  # imported from another package
    return (path if path.split(".")[0] == package.name else None), True


def _contexts(lines: list[str]) -> list[str]:
    """How each docstring line renders: "text" (Markdown), "type" (an item's name and type,
    shown as code) or "code" (a code block or doctest, verbatim)."""
    contexts = []
    section = None
    fenced = False
    for i, line in enumerate(lines):
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        underlined = i + 1 < len(lines) and DASHES.match(lines[i + 1]) is not None
        if FENCE.match(line):
            fenced = not fenced
            contexts.append("code")
        elif fenced or stripped.startswith((">>>", "...")):
            contexts.append("code")
        elif stripped and underlined:
            section = stripped.lower()
            contexts.append("text")
        elif DASHES.match(line) or not stripped:
            contexts.append("text")
        elif section in ITEM_SECTIONS:
            contexts.append("type" if indent == 0 else "code" if indent >= 8 else "text")
        else:
            contexts.append("code" if indent >= 4 else "text")  # an indented block is code
    return contexts


def _link_roles(obj: griffe.Object, package: griffe.Module) -> None:
    def replace(match: re.Match[str], line: int, context: str) -> str:
        role, tilde, name = match.groups()
        shown = name.split(".")[-1] if tilde else name
        path, known = _target(obj, name, package)
        # a name of the package that does not exist, or a bare name that is not in scope (and
        # not a builtin), is a typo; a dotted name of another package is taken as written
        inside = name.startswith(package.name + ".")
        bare = "." not in name and role != "mod" and not hasattr(builtins, name)
        if not known and (inside or bare):
            griffe.logger.warning(
                "%s: the docstring of %s refers to %s, which is not defined there",
                _where(obj, line),
                obj.path,
                name,
            )
        if context != "text":
            return shown  # inside code: the name alone
        if not path:
            return f"`{shown}`"
        # optional: an object of the package that no page renders (a private helper) stays code
        return f'<autoref identifier="{path}" optional><code>{shown}</code></autoref>'

    lines = obj.docstring.value.split("\n")
    contexts = _contexts(lines)
    lines = [
        ROLE.sub(lambda m, i=i, c=c: replace(m, i, c), line)
        for i, (line, c) in enumerate(zip(lines, contexts, strict=True))
    ]
    obj.docstring.value = "\n".join(_rst_to_markdown(lines, contexts))


def _rst_to_markdown(lines: list[str], contexts: list[str]) -> list[str]:
    """The reStructuredText that numpydoc docstrings use, as Markdown: inline math as code, a
    math directive as a code block, citations ``.. [1]`` as a list, ``text::`` as ``text:``."""
    out = []
    for line, context in zip(lines, contexts, strict=True):
        if context != "text":
            out.append(MATH.sub(r"\1", line) if context == "type" else line)
            continue
        line = MATH.sub(r"`\1`", line)
        directive = MATH_DIRECTIVE.match(line)
        if directive:
            indent, formula = directive.groups()
            # the indented block that follows is already a Markdown code block
            out.append(f"{indent}    {formula}" if formula else "")
            continue
        line = CITATION.sub(r"\1- \2 ", line)
        if line.rstrip().endswith("::") and not line.lstrip().startswith(".."):
            line = line.rstrip()[:-1]  # "text::" introduces a literal block: "text:"
            if not line.strip(" :"):
                line = ""
        out.append(line)
    return out


class NumpydocReference(griffe.Extension):
    """Check numpydoc section titles and link Sphinx roles in every docstring of a package."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: object) -> None:
        for obj in _objects(pkg):
            if obj.docstring is None:
                continue
            _check_sections(obj)
            _link_roles(obj, pkg)
