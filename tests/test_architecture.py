"""The package's own import graph: no cycles, and the layering that keeps it easy to change.

The graph is read from the source (every ``import`` and ``from ... import`` of a ``validation``
module, at any depth of a module, lazy imports included), so that a cycle hidden in a function
body counts as much as one at the top. The rules are those of the design (``docs/architecture.md``):
statistics know no files, pages, torch or command line; the surveillance computation renders
nothing; the reports run no model; only the CLI and the workflow import the demo.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "validation"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(name: str) -> str | None:
    """The most specific module of the package that ``name`` (a dotted path) names."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _imports(module: str) -> Iterator[tuple[str, int]]:
    """(imported name, line) of every import in ``module``, third-party ones included."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield base, node.lineno
            for alias in node.names:
                yield f"{base}.{alias.name}", node.lineno


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for module in MODULES:
        for name, _ in _imports(module):
            target = _resolve(name) if name.startswith("validation") else None
            if target and target != module:
                graph[module].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_import_graph_reads_every_module_and_finds_a_planted_cycle():
    graph = _graph()
    assert "validation.report.evidence.context" in graph
    assert "validation.report.document" in graph["validation.report.evidence.context"]
    planted = {k: set(v) for k, v in graph.items()}
    planted["validation.numbers"].add("validation.report.labels")
    planted["validation.report.labels"].add("validation.numbers")
    assert ["validation.numbers", "validation.report.labels"] in _cycles(planted)


def test_the_import_graph_has_no_cycle():
    assert _cycles(_graph()) == []


def _offences(prefix: str, forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{module} line {line}: imports {name}"
        for module in MODULES
        if module == prefix or module.startswith(prefix + ".")
        for name, line in _imports(module)
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    ]


@pytest.mark.parametrize(
    ("layer", "forbidden"),
    [
        # statistics: pure functions on arrays and frames
        (
            "validation.stats",
            (
                "validation.analysis",
                "validation.report",
                "validation.surveillance",
                "validation.ingest",
                "validation.model",
                "validation.cli",
                "validation.workflow",
                "torch",
                "matplotlib",
                "jinja2",
                "weasyprint",
                "pydicom",
            ),
        ),
        # the surveillance computation renders nothing
        (
            "validation.surveillance",
            ("validation.report", "jinja2", "weasyprint", "matplotlib", "markupsafe"),
        ),
        # a report reads results: it runs no model, ingests nothing, analyses nothing
        (
            "validation.report",
            (
                "validation.model",
                "validation.ingest",
                "validation.analysis",
                "validation.cli",
                "torch",
                "pydicom",
            ),
        ),
        # ingestion computes no statistics
        ("validation.ingest", ("validation.stats", "validation.analysis", "validation.report")),
        # the analysis neither renders nor reads images
        ("validation.analysis", ("validation.report", "jinja2", "weasyprint", "matplotlib")),
    ],
)
def test_layers_import_only_what_they_may(layer: str, forbidden: tuple[str, ...]):
    assert _offences(layer, forbidden) == []


def test_only_the_cli_and_the_workflow_import_the_demo():
    allowed = ("validation.cli", "validation.workflow", "validation.demo")
    offences = [
        f"{module} line {line}: imports {name}"
        for module in MODULES
        if not any(module == a or module.startswith(a + ".") for a in allowed)
        for name, line in _imports(module)
        if name == "validation.demo" or name.startswith("validation.demo.")
    ]
    assert offences == []
