"""The import contracts of pyproject.toml, run by `make lint` and CI: kept by the code as it is, and
broken, with the offending import named, by an upward import or a cycle added on purpose."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("config", "callbacks", "alerts", "reports")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _copy_project(destination: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(ROOT / package, destination / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", destination / "pyproject.toml")
    return destination


def _lint(folder: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=folder,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(folder)},
        timeout=120,
    )


def test_the_code_keeps_every_contract(tmp_path):
    # given the project as it is / when the contracts are checked / then all are kept
    result = _lint(_copy_project(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        # the engine reaching up into the services
        ("callbacks/delivery/claim.py", "from callbacks.services import events", "entry points -> services"),
        # callbacks importing an app that reads it
        ("callbacks/models/profiles.py", "import alerts.models", "apps point one way"),
        # a cycle between two sibling modules of the pipeline
        ("callbacks/delivery/render/signing.py", "from callbacks.delivery.render import request", "No import cycles"),
    ],
)
def test_an_upward_import_or_a_cycle_breaks_a_contract(tmp_path, module, line, contract):
    # given a copy of the project with one import added on purpose
    folder = _copy_project(tmp_path)
    path = folder / module
    path.write_text(path.read_text() + f"\n{line}  # noqa\n")

    # when the contracts are checked
    result = _lint(folder)

    # then the run fails and names the broken contract
    assert result.returncode != 0
    assert "BROKEN" in result.stdout
    assert contract in result.stdout
