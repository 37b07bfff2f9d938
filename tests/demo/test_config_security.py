"""The written config's [security] section: who owns which reservation, from the seed data."""

from __future__ import annotations

import tomllib

from battletest.demo import seed
from battletest.demo.config_file import owned_reservations, security_section
from battletest.security.settings import ScanSettings


def test_each_identity_owns_its_own_reservations_and_none_are_shared() -> None:
    owned = owned_reservations()
    ids = [i for group in owned.values() for i in group]
    assert len(ids) == len(set(ids))  # BOLA reads one identity's objects as another
    by_id = {r.id: r for r in seed.RESERVATIONS}
    users = {u.identity: u for u in seed.USERS}
    for name, group in owned.items():
        user = users[name]
        for rid in group:
            if user.role == "guest":
                assert by_id[rid].guest_id == user.guest_id
            else:
                assert by_id[rid].hotel_id == user.hotel_id
    assert set(owned) == {u.identity for u in seed.USERS if u.role in ("guest", "staff")}


def test_the_section_parses_and_the_scanner_accepts_it() -> None:
    doc = tomllib.loads("\n".join(security_section()))
    settings = ScanSettings.model_validate(doc["security"])
    assert settings.objects["/v1/reservations"] == owned_reservations()
    code = settings.parameters["confirmation_code"]
    assert code in {r.confirmation_code for r in seed.RESERVATIONS}
