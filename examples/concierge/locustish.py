"""Python tasks with a Locust-like feel, against the demo.

battletest demo serve --no-rate-limit
battletest load --target http://127.0.0.1:8000 --scenario examples/concierge/locustish.py --vus 5
"""

from __future__ import annotations

from battletest.load.tasks import VirtualUser, between, task


class FrontDesk(VirtualUser):
    wait_time = between(0.05, 0.2)

    async def on_start(self) -> None:
        r = await self.client.post(
            "/v1/auth/login",
            json={"username": "staff.h1@demo.test", "password": "staff1-Demo-2026!"},
            expect=200,
        )
        self.client.headers["Authorization"] = "Bearer " + r.json()["access_token"]

    @task(3)
    async def lookup(self) -> None:
        await self.client.get("/v1/reservations/r-1001", expect=200)

    @task(1)
    async def take_call(self) -> None:
        r = await self.client.post(
            "/v1/calls", json={"caller": "+15550100002", "hotel_id": "h1"}, expect=201
        )
        call = r.json()["id"]
        await self.client.post(f"/v1/calls/{call}/events", json={"type": "answered"})
        await self.client.post(f"/v1/calls/{call}/events", json={"type": "ended"})
