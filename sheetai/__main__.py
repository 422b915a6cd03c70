"""``python -m sheetai`` runs the CLI."""

from .cli import main

main()
