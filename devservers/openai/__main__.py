"""``python -m devservers.openai``: FakeOpenAI in its own process (see :func:`.server.main`)."""

from .server import main

main()
