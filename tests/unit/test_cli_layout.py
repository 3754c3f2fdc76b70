"""bot/ keeps the core at its top level: `relais` is bot/cli/, the dev tools bot/devtools/."""

from __future__ import annotations

from pathlib import Path

import bot
import bot.cli
import bot.devtools

BOT = Path(bot.__file__).parent


def test_no_command_line_module_is_left_at_the_top_of_bot() -> None:
    assert sorted(path.name for path in BOT.glob("*_cli.py")) == []
    assert bot.cli.main.__module__ == "bot.cli"  # what `relais = "bot.cli:main"` runs
    assert Path(bot.devtools.__file__).parent == BOT / "devtools"
