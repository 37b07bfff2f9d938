"""The concierge's own SQLite database (stdlib ``sqlite3``): users, API keys, tokens, guests, calls.

The store is used from the app's event-loop thread only (one connection, autocommit, WAL).
``search_guests_unsafe`` is the planted SQL injection (issue 3, ``sqli``); everything else binds
parameters.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import time
from collections.abc import Callable
from typing import Any

from battletest.demo import seed

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY, email TEXT UNIQUE NOT NULL, password_hash TEXT NOT NULL,
    role TEXT NOT NULL, hotel_id TEXT, guest_id TEXT, display_name TEXT NOT NULL,
    phone TEXT, created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, key_hash TEXT UNIQUE NOT NULL, role TEXT NOT NULL,
    hotel_id TEXT, quota INTEGER NOT NULL, created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    jti TEXT PRIMARY KEY, user_id TEXT NOT NULL, kind TEXT NOT NULL, expires_at REAL NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS guests (
    id TEXT PRIMARY KEY, hotel_id TEXT NOT NULL, name TEXT NOT NULL, phone TEXT NOT NULL,
    email TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS calls (
    id TEXT PRIMARY KEY, hotel_id TEXT NOT NULL, caller TEXT NOT NULL, status TEXT NOT NULL,
    guest_id TEXT, guest_name TEXT, reservation_id TEXT, greeting_text TEXT NOT NULL,
    greeting BLOB, transferred_to TEXT, degraded TEXT, created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS calls_hotel_status ON calls (hotel_id, status);
CREATE TABLE IF NOT EXISTS call_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, call_id TEXT NOT NULL, type TEXT NOT NULL,
    speaker TEXT, text TEXT, at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS call_events_call ON call_events (call_id);
"""

USER_COLUMNS = "id, email, role, hotel_id, guest_id, display_name, phone, created_at"
GUEST_COLUMNS = "id, hotel_id, name, phone, email"


def key_hash(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(6)}"


class Store:
    def __init__(self, path: str) -> None:
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def _one(self, sql: str, *params: Any) -> sqlite3.Row | None:
        """The first row a query answers, or None."""
        row: sqlite3.Row | None = self.db.execute(sql, params).fetchone()
        return row

    def ping(self) -> bool:
        return bool(self.db.execute("SELECT 1").fetchone()[0] == 1)

    # ---- seeding -------------------------------------------------------------------------
    def seed(self, hash_password: Callable[[str], str], service_api_key: str, quota: int) -> None:
        now = time.time()
        for g in seed.GUESTS:
            self.db.execute(
                "INSERT OR IGNORE INTO guests VALUES (?, ?, ?, ?, ?)",
                (g.id, g.hotel_id, g.name, g.phone, g.email),
            )
        for u in seed.USERS:
            if self.user_by_email(u.email) is None:
                phone = next((g.phone for g in seed.GUESTS if g.id == u.guest_id), None)
                self.db.execute(
                    "INSERT INTO users VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        f"u_{u.identity}",
                        u.email,
                        hash_password(u.password),
                        u.role,
                        u.hotel_id,
                        u.guest_id,
                        u.display_name,
                        phone,
                        now,
                    ),
                )
        if service_api_key:
            self.db.execute(
                "INSERT OR IGNORE INTO api_keys VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    new_id("key"),
                    "telephony-gateway",
                    key_hash(service_api_key),
                    "service",
                    None,
                    quota,
                    now,
                ),
            )

    # ---- users ---------------------------------------------------------------------------
    def user_by_email(self, email: str) -> sqlite3.Row | None:
        return self._one("SELECT * FROM users WHERE email = ?", email)

    def user_by_id(self, user_id: str) -> sqlite3.Row | None:
        return self._one("SELECT * FROM users WHERE id = ?", user_id)

    def _user_public(self, user_id: str) -> dict[str, Any]:
        """A user as the API shows it (no password hash)."""
        return dict(
            self.db.execute(f"SELECT {USER_COLUMNS} FROM users WHERE id = ?", (user_id,)).fetchone()
        )

    def list_users(self, with_hashes: bool = False) -> list[dict[str, Any]]:
        cols = USER_COLUMNS + (", password_hash" if with_hashes else "")
        rows = self.db.execute(f"SELECT {cols} FROM users ORDER BY created_at, id").fetchall()
        return [dict(r) for r in rows]

    def create_user(
        self, email: str, password_hash: str, role: str, hotel_id: str | None, display_name: str
    ) -> dict[str, Any]:
        uid = new_id("u")
        self.db.execute(
            "INSERT INTO users VALUES (?, ?, ?, ?, ?, NULL, ?, NULL, ?)",
            (uid, email, password_hash, role, hotel_id, display_name, time.time()),
        )
        return self._user_public(uid)

    def delete_user(self, user_id: str) -> bool:
        cur = self.db.execute("DELETE FROM users WHERE id = ?", (user_id,))
        self.db.execute("UPDATE tokens SET revoked = 1 WHERE user_id = ?", (user_id,))
        return cur.rowcount > 0

    def update_user(self, user_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        allowed = {"display_name", "phone", "role", "hotel_id"}
        fields = {k: v for k, v in changes.items() if k in allowed}
        if fields:
            sets = ", ".join(f"{k} = ?" for k in fields)
            self.db.execute(f"UPDATE users SET {sets} WHERE id = ?", (*fields.values(), user_id))
        return self._user_public(user_id)

    # ---- API keys ------------------------------------------------------------------------
    def api_key(self, api_key: str) -> sqlite3.Row | None:
        return self._one("SELECT * FROM api_keys WHERE key_hash = ?", key_hash(api_key))

    def list_api_keys(self) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT id, name, role, hotel_id, quota, created_at FROM api_keys ORDER BY created_at"
        ).fetchall()
        return [dict(r) for r in rows]

    def create_api_key(self, name: str, hotel_id: str | None, quota: int) -> tuple[str, str]:
        kid, key = new_id("key"), "btk_" + secrets.token_urlsafe(24)
        self.db.execute(
            "INSERT INTO api_keys VALUES (?, ?, ?, 'service', ?, ?, ?)",
            (kid, name, key_hash(key), hotel_id, quota, time.time()),
        )
        return kid, key

    def delete_api_key(self, key_id: str) -> bool:
        return self.db.execute("DELETE FROM api_keys WHERE id = ?", (key_id,)).rowcount > 0

    # ---- tokens --------------------------------------------------------------------------
    def record_token(self, jti: str, user_id: str, kind: str, expires_at: float) -> None:
        self.db.execute(
            "INSERT INTO tokens VALUES (?, ?, ?, ?, 0)", (jti, user_id, kind, expires_at)
        )

    def token_usable(self, jti: str) -> bool:
        row = self.db.execute("SELECT revoked FROM tokens WHERE jti = ?", (jti,)).fetchone()
        return row is not None and row[0] == 0

    def token_revoked(self, jti: str) -> bool:
        row = self.db.execute("SELECT revoked FROM tokens WHERE jti = ?", (jti,)).fetchone()
        return row is not None and row[0] == 1

    def revoke_token(self, jti: str) -> bool:
        return (
            self.db.execute(
                "UPDATE tokens SET revoked = 1 WHERE jti = ? AND revoked = 0", (jti,)
            ).rowcount
            > 0
        )

    def revoke_user_tokens(self, user_id: str) -> None:
        self.db.execute("UPDATE tokens SET revoked = 1 WHERE user_id = ?", (user_id,))

    # ---- guests --------------------------------------------------------------------------
    def search_guests(self, name: str, hotel_id: str | None) -> list[dict[str, Any]]:
        pattern = "%" + name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        if hotel_id is None:
            rows = self.db.execute(
                f"SELECT {GUEST_COLUMNS} FROM guests WHERE name LIKE ? ESCAPE '\\' ORDER BY id",
                (pattern,),
            )
        else:
            rows = self.db.execute(
                f"SELECT {GUEST_COLUMNS} FROM guests WHERE hotel_id = ? AND name LIKE ? "
                "ESCAPE '\\' ORDER BY id",
                (hotel_id, pattern),
            )
        return [dict(r) for r in rows.fetchall()]

    def search_guests_unsafe(self, name: str, hotel_id: str | None) -> list[dict[str, Any]]:
        """PLANTED VULNERABILITY (sqli): the query is built by string formatting."""
        scope = "1 = 1" if hotel_id is None else f"hotel_id = '{hotel_id}'"
        sql = f"SELECT {GUEST_COLUMNS} FROM guests WHERE {scope} AND name LIKE '%{name}%'"
        return [dict(r) for r in self.db.execute(sql).fetchall()]

    # ---- calls ---------------------------------------------------------------------------
    def create_call(self, call: dict[str, Any]) -> None:
        self.db.execute(
            "INSERT INTO calls (id, hotel_id, caller, status, guest_id, guest_name, "
            "reservation_id, greeting_text, greeting, degraded, created_at, updated_at) "
            "VALUES (:id, :hotel_id, :caller, :status, :guest_id, :guest_name, :reservation_id, "
            ":greeting_text, :greeting, :degraded, :created_at, :updated_at)",
            call,
        )

    def call(self, call_id: str) -> sqlite3.Row | None:
        return self._one("SELECT * FROM calls WHERE id = ?", call_id)

    def call_events(self, call_id: str) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT seq, type, speaker, text, at FROM call_events WHERE call_id = ? ORDER BY seq",
            (call_id,),
        ).fetchall()
        return [dict(r) for r in rows]

    def add_event(
        self,
        call_id: str,
        kind: str,
        speaker: str | None,
        text: str | None,
        status: str,
        transferred_to: str | None,
    ) -> None:
        now = time.time()
        self.db.execute(
            "INSERT INTO call_events (call_id, type, speaker, text, at) VALUES (?, ?, ?, ?, ?)",
            (call_id, kind, speaker, text, now),
        )
        self.db.execute(
            "UPDATE calls SET status = ?, updated_at = ?, "
            "transferred_to = COALESCE(?, transferred_to) WHERE id = ?",
            (status, now, transferred_to, call_id),
        )

    def list_calls(
        self, hotel_id: str | None, status: str | None, limit: int, offset: int
    ) -> tuple[list[sqlite3.Row], int]:
        where, args = [], []
        if hotel_id is not None:
            where.append("hotel_id = ?")
            args.append(hotel_id)
        if status is not None:
            where.append("status = ?")
            args.append(status)
        clause = (" WHERE " + " AND ".join(where)) if where else ""
        total = self.db.execute(f"SELECT COUNT(*) FROM calls{clause}", args).fetchone()[0]
        rows = self.db.execute(
            f"SELECT * FROM calls{clause} ORDER BY created_at DESC, id LIMIT ? OFFSET ?",
            [*args, limit, offset],
        ).fetchall()
        return rows, int(total)
