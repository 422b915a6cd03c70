"""``sheetai serve``: the HTTP service behind the Sync button, =AICLASSIFY and the Excel add-in."""

from .app import create_app

__all__ = ["create_app"]
