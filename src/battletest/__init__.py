"""battletest: put an HTTP API through everything it must survive before production.

The package is a library first; the ``battletest`` command and the pytest plugin are thin
layers over it. Importing this package is cheap: subsystems load when they are used.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
