"""The layers hold: the core and training never load the HTTP stack, and no package reaches
up or sideways (training/ and batch/ stand on the core only; nothing imports service/)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from headline_scorer.paths import PROJECT_ROOT

PACKAGES = ("headline_scorer", "training", "batch", "service")
# What each package may import of the project's own packages (itself included).
ALLOWED = {
    "headline_scorer": {"headline_scorer"},
    "training": {"headline_scorer", "training"},
    "batch": {"headline_scorer", "batch"},
    "service": {"headline_scorer", "service"},
}


def _imported_packages(path: Path) -> set[str]:
    """The project packages a module imports, function-local imports included."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & set(PACKAGES)


@pytest.mark.parametrize("package", PACKAGES)
def test_a_package_imports_only_what_stands_below_it(package: str) -> None:
    wrong = {str(path.relative_to(PROJECT_ROOT)): sorted(_imported_packages(path) - ALLOWED[package])
             for path in sorted((PROJECT_ROOT / package).rglob("*.py"))}
    assert {k: v for k, v in wrong.items() if v} == {}


@pytest.mark.parametrize("modules", [
    "headline_scorer.scorer, headline_scorer.artifact, headline_scorer.feedback_store",
    "training.train, training.tune, training.limits, training.behaviour, training.datasets",
    "batch.cli, batch.dask_job",
])
def test_the_core_training_and_batch_never_load_flask(modules: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", f"import sys, {modules}; "
         "print(sorted(m for m in ('flask', 'werkzeug', 'service') if m in sys.modules))"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip() == "[]", result.stdout
