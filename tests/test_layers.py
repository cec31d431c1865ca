"""The house: imports flow one way (rtl <- fabric <- sw <- tb) with no circles, no module takes
another's private names, and the installed package list is the tree's."""

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("rtl", "fabric", "sw", "tb")


def _sources():
    return [p for top in FOLDERS for p in sorted((ROOT / top).rglob("*.py"))]


def test_import_contracts_hold():
    """import-linter with the contracts in pyproject.toml (layers and acyclic siblings)."""
    lint = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint), "--config", str(ROOT / "pyproject.toml")],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout, result.stdout


def test_contract_catches_an_upward_import(tmp_path):
    """The layers contract fails when a lower layer imports a higher one (so the check above
    can fail): a copy of the config that also declares tests' helper order is not needed; a
    synthetic graph is."""
    import grimp
    from importlinter.contracts.layers import LayersContract

    graph = grimp.ImportGraph()
    for name in ("wafer_engine.rtl", "wafer_engine.rtl.x", "wafer_engine.sw",
                 "wafer_engine.sw.y"):
        graph.add_module(name)
    graph.add_import(importer="wafer_engine.rtl.x", imported="wafer_engine.sw.y",
                     line_number=1, line_contents="from wafer_engine.sw import y")
    contract = LayersContract(name="t", session_options={},
                              contract_options={"layers": ["wafer_engine.sw",
                                                           "wafer_engine.rtl"]})
    assert not contract.check(graph, verbose=False).kept


def test_no_private_names_across_modules():
    """``from wafer_engine.x import _name`` is not allowed: a name another module needs is
    public (in ``__all__``) where it is defined."""
    bad = []
    for path in _sources() + sorted((ROOT / "tests").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("wafer_engine"):
                bad += [f"{path.relative_to(ROOT)}:{node.lineno} {a.name}"
                        for a in node.names if a.name.startswith("_")]
    assert bad == []


def test_package_list_matches_the_tree():
    """pyproject.toml names every folder with an ``__init__.py`` under the four roots, and no
    other, as ``wafer_engine.<folder>``."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    tree = sorted("wafer_engine." + ".".join(p.parent.relative_to(ROOT).parts)
                  for top in FOLDERS for p in (ROOT / top).rglob("__init__.py"))
    assert sorted(config["packages"]) == tree
    assert config["package-dir"] == {f"wafer_engine.{top}": top for top in FOLDERS}
