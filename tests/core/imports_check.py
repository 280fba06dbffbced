"""The import rules of aom_bot's layers, read from the source with ``ast`` (nothing imported).

Layers point inward: a pure core (AOM models and their coercions, IDs, console links and signing,
rendering, follow policy, config, errors, records, profiles, action records, the audit log line)
imports no Slack, HTTP transport, database or Starlette; the follow engine and the terminal never
import the Slack listeners; the simulator takes only ``aom.signing`` and ``errors`` from the
package; and no two modules import each other in a circle.

What counts:

* *runtime* imports: anywhere (module level, in functions) except under ``if TYPE_CHECKING:``;
* *module-level* imports: runtime imports outside functions (what runs when a module is
  imported). Cycles are counted on these only: an import inside a function, or one only for
  type checkers, cannot make a circular import fail. An edge goes to the module named
  (``from pkg import mod`` → ``pkg.mod``; ``from pkg import name`` → ``pkg``); the parent
  packages a submodule import runs implicitly count for the core and simulator closures, not
  for cycles.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

#: top-level distributions the pure core must not import
FORBIDDEN_IN_CORE = frozenset(
    {
        "slack_sdk",
        "slack_bolt",
        "httpx",
        "aiohttp",
        "httpx_aiohttp",
        "uvicorn",
        "aiosqlite",
        "asyncpg",
        "sqlite3",
        "starlette",
    }
)

#: the pure core: packages (every module below) and single modules
CORE = (
    "aom_bot.render",
    "aom_bot.aom.ids",
    "aom_bot.aom.lenient",
    "aom_bot.aom.links",
    "aom_bot.aom.models",
    "aom_bot.aom.signing",
    "aom_bot.follow.policy",
    "aom_bot.config",
    "aom_bot.config_values",
    "aom_bot.operations",
    "aom_bot.errors",
    "aom_bot.records",
    "aom_bot.profiles",
    "aom_bot.action_records",
    "aom_bot.audit_log",
)

#: what the simulator may import from the package (besides itself)
SIMULATOR_MAY_USE = ("aom_bot.aom.signing", "aom_bot.errors")


@dataclass(frozen=True, slots=True)
class Import:
    """One imported module as written in one module."""

    source: str
    target: str
    line: int
    #: outside any function (runs when the module is imported)
    module_level: bool
    #: only under ``if TYPE_CHECKING:``
    type_only: bool

    def __str__(self) -> str:
        return f"{self.source}:{self.line} imports {self.target}"


def under(name: str, prefix: str) -> bool:
    """``name`` is the module ``prefix`` or lies inside the package ``prefix``."""
    return name == prefix or name.startswith(prefix + ".")


def modules(root: Path) -> dict[str, Path]:
    """Dotted module name → file, for the package whose directory is ``root``."""
    found: dict[str, Path] = {}
    for path in sorted(root.rglob("*.py")):
        parts = [root.name, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


class _Reader(ast.NodeVisitor):
    def __init__(self, source: str, is_package: bool, known: set[str]) -> None:
        self.source = source
        self.package = source if is_package else source.rpartition(".")[0]
        self.known = known
        self.depth = 0
        self.type_only = 0
        self.found: list[Import] = []

    def _add(self, target: str, node: ast.stmt) -> None:
        found = Import(self.source, target, node.lineno, self.depth == 0, self.type_only > 0)
        if found not in self.found:
            self.found.append(found)

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            self.type_only += 1
            for child in node.body:
                self.visit(child)
            self.type_only -= 1
            for child in node.orelse:
                self.visit(child)
        else:
            self.generic_visit(node)

    def _function(self, node: ast.AST) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        if node.level:
            anchor = self.package.split(".")
            anchor = anchor[: len(anchor) - (node.level - 1)]
            base = ".".join([*anchor, base] if base else anchor)
        for alias in node.names:
            sub = f"{base}.{alias.name}"
            self._add(sub if sub in self.known else base, node)


def read_imports(root: Path) -> list[Import]:
    """Every import in the package at ``root``."""
    files = modules(root)
    known = set(files)
    found: list[Import] = []
    for name, path in files.items():
        reader = _Reader(name, path.name == "__init__.py", known)
        reader.visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
        found.extend(reader.found)
    return found


def _parents(name: str) -> Iterator[str]:
    parts = name.split(".")
    for end in range(1, len(parts)):
        yield ".".join(parts[:end])


def _closure(start: str, imports: Iterable[Import], package: str) -> dict[str, list[str]]:
    """Modules of the package that importing ``start`` runs (module-level imports, parent
    packages included), each with the chain that gets there."""
    edges: dict[str, set[str]] = {}
    for imp in imports:
        if imp.module_level and not imp.type_only and under(imp.target, package):
            edges.setdefault(imp.source, set()).add(imp.target)
    chains = {start: [start]}
    todo = [start]
    while todo:
        here = todo.pop()
        for there in sorted({*edges.get(here, ()), *_parents(here)}):
            if there not in chains:
                chains[there] = [*chains[here], there]
                todo.append(there)
    return chains


def core_violations(root: Path) -> list[str]:
    """Core modules importing Slack, HTTP transports, databases or Starlette: directly (at
    runtime, even inside a function), or through a module they import at module level."""
    package = root.name
    imports = read_imports(root)
    prefixes = tuple(c.replace("aom_bot", package, 1) for c in CORE)
    core = [m for m in modules(root) if any(under(m, c) for c in prefixes)]
    bad: list[str] = []
    for imp in imports:
        if (
            imp.source in core
            and not imp.type_only
            and imp.target.split(".")[0] in FORBIDDEN_IN_CORE
        ):
            bad.append(str(imp))
    outside = [
        imp
        for imp in imports
        if imp.module_level and not imp.type_only and imp.target.split(".")[0] in FORBIDDEN_IN_CORE
    ]
    for module in core:
        chains = _closure(module, imports, package)
        for imp in outside:
            if imp.source in chains and imp.source not in core:
                bad.append(f"{' -> '.join(chains[imp.source])}: {imp}")
    return sorted(set(bad))


def core_outward_violations(root: Path) -> list[str]:
    """Core modules importing (at runtime) a module of the package outside the core: the core
    stays usable without the edges (``render`` shows a ``Follow`` without the store)."""
    package = root.name
    core = tuple(c.replace("aom_bot", package, 1) for c in CORE)
    return [
        str(imp)
        for imp in read_imports(root)
        if not imp.type_only
        and any(under(imp.source, c) for c in core)
        and under(imp.target, package)
        and imp.target != package
        and not any(under(imp.target, c) for c in core)
    ]


def slack_violations(root: Path) -> list[str]:
    """Imports of the Slack layer from the follow engine or the terminal (any kind)."""
    package = root.name
    sources = (f"{package}.follow", f"{package}.console")
    return [
        str(imp)
        for imp in read_imports(root)
        if any(under(imp.source, s) for s in sources) and under(imp.target, f"{package}.slack")
    ]


def simulator_violations(root: Path) -> list[str]:
    """Simulator imports of the package beyond ``aom.signing`` and ``errors`` (any kind), and
    modules that importing the simulator runs beyond those and their parent packages."""
    package = root.name
    simulator = f"{package}.simulator"
    allowed = tuple(m.replace("aom_bot", package, 1) for m in SIMULATOR_MAY_USE)
    imports = read_imports(root)
    bad = [
        str(imp)
        for imp in imports
        if under(imp.source, simulator)
        and under(imp.target, package)
        and not under(imp.target, simulator)
        and imp.target not in allowed
    ]
    fine = {simulator, *allowed, *(p for a in allowed for p in _parents(a))}
    for module in (m for m in modules(root) if under(m, simulator)):
        for reached, chain in _closure(module, imports, package).items():
            if reached not in fine and not under(reached, simulator):
                bad.append(" -> ".join(chain))
    return sorted(set(bad))


def import_cycles(root: Path) -> list[list[str]]:
    """Groups of modules that import each other in a circle (module-level imports only)."""
    edges: dict[str, set[str]] = {m: set() for m in modules(root)}
    for imp in read_imports(root):
        if (
            imp.module_level
            and not imp.type_only
            and imp.target in edges
            and imp.target != imp.source
        ):
            edges[imp.source].add(imp.target)
    # Tarjan's strongly connected components, iteratively
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    groups: list[list[str]] = []
    counter = 0
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        groups.append(sorted(group))
    return sorted(groups)
