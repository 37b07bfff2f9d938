"""JWT reading and forging for the auth suite and the scanner (``auth/jwt.py``); the
identities themselves live in ``battletest.transport.identities``."""

__all__: list[str] = []
