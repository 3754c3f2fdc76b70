"""`python -m bot.cli ...` is `relais ...` (tests and containers start the bot this way)."""

from bot.cli import main

raise SystemExit(main())
