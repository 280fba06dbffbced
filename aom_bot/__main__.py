"""``python -m aom_bot`` runs the command line."""

from aom_bot.cli import main

main()
