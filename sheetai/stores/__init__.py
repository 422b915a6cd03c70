"""Where the service keeps what replicas share: jobs, the answer cache, schedule fires, pace.

One interface (:class:`~.base.Store`), two implementations: SQLite files under
``SHEETAI_HOME`` (the embedded default, one machine) and PostgreSQL (``--store
postgresql://…``, several replicas). :func:`~.open.open_store` picks one from the settings.
"""

from .base import Store, StoreUnavailable
from .open import open_store, store_url

__all__ = ["Store", "StoreUnavailable", "open_store", "store_url"]
