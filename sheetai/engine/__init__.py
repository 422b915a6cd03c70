"""The sync engine: a pipeline over one :class:`~sheetai.engine.run.Run`.

read (``workbook``) → plan (``plan``, ``planning``, ``preflight``) → run (``runner``,
``batching``, ``learning``) → write back (``writeback``, ``writer``, ``outputs``) → log
(``runlog``, ``summary``); ``sync`` strings them together. Every engine module counts rows and
columns as the sheet does, 1-based (``grid`` indexes the Python lists).
"""
