"""The package rule of DESIGN.md, read from the source: bot → scheduler → messages → storage.

A package imports only those to its right. The imports are read with `ast`, not by
importing, so an import inside a function or under TYPE_CHECKING counts as well.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# What each package must never import (top-level module names).
FORBIDDEN = {
    "storage": {"bot", "scheduler", "messages", "telegram", "jinja2", "apscheduler"},
    "messages": {"bot", "scheduler"},
    "scheduler": {"bot", "telegram"},
}


def imported_modules(path: Path) -> set[str]:
    """Every absolute module name path imports (relative imports stay in their package)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            # `from bot import cli` imports the module bot.cli.
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def modules_of(package: str) -> list[Path]:
    found = sorted((ROOT / package).rglob("*.py"))
    assert found, f"no modules found in {package}/"
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_a_package_imports_only_those_to_its_right(package: str) -> None:
    broken = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in modules_of(package)
        for name in sorted(imported_modules(path))
        if name.split(".")[0] in FORBIDDEN[package]
    ]
    assert broken == []


def test_the_rule_sees_an_import_that_breaks_it(tmp_path: Path) -> None:
    source = tmp_path / "example.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from scheduler import jobs\n"
        "def later() -> None:\n"
        "    import telegram.ext\n"
        "from . import sibling\n"
    )
    assert imported_modules(source) == {
        "typing",
        "typing.TYPE_CHECKING",
        "scheduler",
        "scheduler.jobs",
        "telegram.ext",
    }


def test_the_command_line_groups_import_only_the_common_module_of_their_package() -> None:
    """bot/cli/__init__.py imports the groups; a group importing it back would be a cycle."""
    broken = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in modules_of("bot/cli")
        if path.name != "__init__.py"
        for name in sorted(imported_modules(path))
        if (name == "bot.cli" or name.startswith("bot.cli."))
        and name != "bot.cli.common"
        # `from bot.cli.common import fail` also records bot.cli.common.fail.
        and not name.startswith("bot.cli.common.")
    ]
    assert broken == []
