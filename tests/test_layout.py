"""The shape of the code: no import cycles, shells without queries, vendor SDKs and model
clients only in backends/, and every stage says what it takes and gives."""

from __future__ import annotations

import ast

from tests.import_graph import SRC, Graph, build, cycles

SHELLS = ("cli/", "scheduler.py", "pipeline.py", "web/", "workers/")
STAGES = (
    "sources",
    "transcripts",
    "insights",
    "clusters",
    "ranking",
    "digests",
    "delivery",
    "exports",
    "subscribers",
    "search",
    "briefings",
)
SQL = ("select", "update", "delete", "insert", "text")
VENDOR_SDKS = ("openai", "anthropic", "faster_whisper", "sentence_transformers", "apprise", "smtplib")


def test_cycles_are_found_by_the_check_itself() -> None:
    # The detector must see a cycle when there is one, or the test below proves nothing.
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_between_podsift_parts() -> None:
    graph = build()
    assert graph.module_level, "the graph is empty: the walk found no imports"
    assert cycles(graph.module_level) == []


# Layers, lowest first (README's picture): a part may import only parts ranked below it.
LAYERS = {
    **dict.fromkeys(("types", "settings", "progress", "words"), 0),
    **dict.fromkeys(("store", "net"), 1),
    "backends": 2,
    "sources": 3,
    "transcripts": 4,
    "insights": 5,
    "clusters": 6,
    "subscribers": 6,
    "ranking": 7,
    "digests": 8,
    "search": 7,
    "delivery": 9,
    "exports": 9,
    "briefings": 9,
    "core": 10,
    **dict.fromkeys(("pipeline", "scheduler", "web", "workers"), 11),
    "cli": 12,
    **dict.fromkeys(("__main__", "podsift"), 13),
}


def test_imports_point_down_the_layers() -> None:
    graph = build()
    assert set(graph.module_level) <= set(LAYERS), "a new part needs its place in LAYERS"
    upward = sorted(
        f"{source} -> {target}"
        for source, targets in graph.module_level.items()
        for target in targets
        if LAYERS[target] >= LAYERS[source]
    )
    assert upward == []


def test_stages_import_the_core_for_its_type_only() -> None:
    # make_app builds the backends and stages: a stage importing podsift.core at run time
    # would make a cycle with it.
    graph = build()
    users = sorted(k for k, targets in graph.module_level.items() if "core" in targets)
    assert set(users) <= {"cli", "pipeline", "scheduler", "web", "workers"}, users


def _queries(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        if isinstance(node.value, ast.Name) and node.value.id == "sa" and node.attr in SQL:
            lines.append(node.lineno)
        if node.attr == "session":  # app.session()
            lines.append(node.lineno)
    return lines


def test_shells_hold_no_queries() -> None:
    found = {}
    for path in sorted(SRC.rglob("*.py")):
        relative = str(path.relative_to(SRC))
        if relative.startswith(SHELLS):
            lines = _queries(ast.parse(path.read_text()))
            if lines:
                found[relative] = lines
    assert found == {}, f"queries in shells (move them into a stage): {found}"


def test_the_query_check_sees_a_query() -> None:
    assert sorted(_queries(ast.parse("with app.session() as s:\n    s.scalar(sa.select(Feed))"))) == [1, 2]


def test_vendor_sdks_and_model_clients_live_in_backends() -> None:
    graph: Graph = build()
    outside = sorted(
        f"{file}:{line} imports {module}"
        for file, line, module, _ in graph.imports
        if module.split(".")[0] in VENDOR_SDKS and not file.startswith("backends/")
    )
    assert outside == []


def test_each_stage_says_what_it_takes_and_gives() -> None:
    for stage in (*STAGES, "backends", "store"):
        doc = ast.get_docstring(ast.parse((SRC / stage / "__init__.py").read_text())) or ""
        assert len(doc.split()) >= 12, f"{stage}/__init__.py needs a line on what it takes and gives"
