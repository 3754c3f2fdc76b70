"""constraints.txt pins every dependency pyproject.toml names (runtime and dev extra).

The Docker image and scripts/_bootstrap.sh install with `-c constraints.txt`; a dependency
added to pyproject.toml without regenerating it (scripts/update_constraints.py) would be
installed at whatever version PyPI has that day.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]


def pinned() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            requirement = Requirement(line)
            specifiers = list(requirement.specifier)
            assert len(specifiers) == 1, line
            assert specifiers[0].operator == "==", line
            pins[canonicalize_name(requirement.name)] = specifiers[0].version
    return pins


def test_every_dependency_of_pyproject_is_pinned() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    named = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    pins = pinned()
    missing = []
    for line in named:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        if name not in pins:
            missing.append(name)
        elif not requirement.specifier.contains(pins[name], prereleases=True):
            missing.append(f"{name} ({pins[name]} outside {requirement.specifier})")
    assert missing == [], "run .venv/bin/python scripts/update_constraints.py"
    # The build backend too (pip install -e in the image and in .venv).
    assert "setuptools" in pins
