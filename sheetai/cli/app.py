"""``sheetai`` commands. Each parses its options, calls the library, prints, and exits.

Importing a command module registers its commands on the shared :data:`~.common.app`, in the
order ``sheetai --help`` lists them: ``run`` and ``init`` (:mod:`.sync_commands`), ``review``,
``qc`` and ``summary`` (:mod:`.quality_commands`), ``compare``
(:mod:`.compare_command`), ``models`` (:mod:`.models_command`), ``serve``
(:mod:`.serve_command`), ``watch`` (:mod:`.watch_command`).

Exit codes: 0 done, 1 some rows failed, 2 bad input (config, file, arguments), 130 stopped.
"""

from __future__ import annotations

# Imported for their commands, in --help order (so not sorted).
# isort: off
from . import sync_commands, quality_commands, compare_command, models_command, serve_command  # noqa: F401,E501
from . import watch_command  # noqa: F401

# isort: on
from .common import app

__all__ = ["app", "main"]


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
