"""podsift's import graph between its top-level parts (subpackages and modules).

`python tests/import_graph.py` prints it; tests/test_layout.py holds it to the rules.
Module-level imports are those that run on import (not inside functions, not under
`if TYPE_CHECKING:`); they are what can make an import cycle.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "podsift"


@dataclass
class Graph:
    module_level: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    in_functions: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    function_imports: int = 0  # imports of another part inside a function
    # (file, line, imported module) for every import, for finer rules
    imports: list[tuple[str, int, str, bool]] = field(default_factory=list)


def part_of(module: str) -> str | None:
    bits = module.split(".")
    return bits[1] if bits[0] == "podsift" and len(bits) > 1 else None


def _module_name(path: Path, src: Path = SRC) -> str:
    parts = list(path.relative_to(src.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, src: Path) -> list[tuple[int, str, bool]]:
    """(line, module, module_level) for each import; TYPE_CHECKING blocks are left out."""
    module = _module_name(path, src)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: list[tuple[int, str, bool]] = []

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                visit(child, False)
                continue
            if isinstance(child, ast.Import):
                found.extend((child.lineno, a.name, top) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                name = child.module or ""
                if child.level:
                    base = package.split(".")
                    base = base[: len(base) - child.level + 1]
                    name = ".".join([*base, name] if name else base)
                found.append((child.lineno, name, top))
            visit(child, top)

    visit(ast.parse(path.read_text()), True)
    return found


def build(src: Path = SRC) -> Graph:
    graph = Graph()
    for path in sorted(src.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        source = part_of(_module_name(path, src)) or "podsift"
        for line, name, top in _imports(path, src):
            graph.imports.append((str(path.relative_to(src)), line, name, top))
            target = part_of(name)
            if target is None or target == source:
                continue
            (graph.module_level if top else graph.in_functions)[source].add(target)
            graph.function_imports += not top
    return graph


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one part (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for node in sorted(set(edges) | {w for ws in edges.values() for w in ws}):
        if node not in index:
            strong(node)
    return out


def main() -> None:
    graph = build(Path(sys.argv[1]) if len(sys.argv) > 1 else SRC)
    print("module-level imports between parts:")
    for source in sorted(graph.module_level):
        print(f"  {source:12} -> {', '.join(sorted(graph.module_level[source]))}")
    everything = {
        k: graph.module_level.get(k, set()) | graph.in_functions.get(k, set())
        for k in set(graph.module_level) | set(graph.in_functions)
    }
    print("cycles, module level:", cycles(graph.module_level) or "none")
    print("cycles, counting imports inside functions:", cycles(everything) or "none")
    print("imports of another part inside functions:", graph.function_imports)


if __name__ == "__main__":
    main()
