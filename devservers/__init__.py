"""Local stand-ins for the services sheetai talks to, for the tests and the benchmarks.

``devservers.openai`` is an OpenAI-compatible server (the real ``openai`` SDK talks to it),
``devservers.sheets`` a Google Sheets v4 server (real gspread and google-auth talk to it) and
``devservers.llamacpp`` runs llama.cpp's own server with a tiny model. They live outside
``tests`` so that ``benchmarks`` can use them too, and outside ``sheetai`` so that the wheel
does not ship them.
"""
