"""``python -m devservers.anthropic``: FakeClaude in its own process (see :func:`.server.main`)."""

from .server import main

main()
