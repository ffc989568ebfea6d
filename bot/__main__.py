"""`python -m bot` is the `liaison` command."""

from bot.cli import main

main()
