"""The ``sheetai`` command line: a thin layer over the library (parse, call, print, exit)."""

from .app import app, main

__all__ = ["app", "main"]
