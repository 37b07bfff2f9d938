"""A small synchronous client for the control API (ours or a real Toxiproxy's).

The CLI's ``add``/``toxic``/``list``/… commands use it; errors come back as battletest errors:
an API that does not answer is ``TargetUnreachable`` (exit 3), a refused request is a
``ConfigError`` carrying the server's message (exit 2).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import httpx

from battletest.errors import ConfigError, TargetUnreachable
from battletest.netutil import TOKEN_HEADER

DEFAULT_API = "127.0.0.1:8474"


def reach(send: Callable[[], httpx.Response], unreachable: str, hint: str) -> httpx.Response:
    """The answer of a control API call (the fault proxy's, the mock server's admin API), or
    ``TargetUnreachable`` (exit 3): ``unreachable`` and the transport error's kind, ``hint``
    saying how to start one."""
    try:
        return send()
    except httpx.HTTPError as exc:
        raise TargetUnreachable(f"{unreachable} ({type(exc).__name__})", hint=hint) from None


def api_base(address: str) -> str:
    address = address.strip().rstrip("/")
    return address if "://" in address else f"http://{address}"


class ProxyClient(AbstractContextManager["ProxyClient"]):
    """Talks to a Toxiproxy-compatible API at ``address`` (``host:port`` or a URL)."""

    def __init__(
        self, address: str = DEFAULT_API, *, timeout: float = 10.0, token: str | None = None
    ) -> None:
        self.base = api_base(address)
        headers = {TOKEN_HEADER: token} if token else {}
        self._http = httpx.Client(base_url=self.base, timeout=timeout, headers=headers)

    def close(self) -> None:
        self._http.close()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, body: Any = None) -> Any:
        response = reach(
            lambda: self._http.request(method, path, json=body),
            f"no proxy control API answers at {self.base}",
            "start one with `battletest proxy --api HOST:PORT` or pass --api",
        )
        if response.status_code >= 400:
            try:
                message = response.json().get("error") or response.text
            except ValueError:
                message = response.text
            raise ConfigError(f"{message} (HTTP {response.status_code} from {method} {path})")
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def proxies(self) -> dict[str, Any]:
        return dict(self.request("GET", "/proxies"))

    def create(self, name: str, upstream: str, listen: str, enabled: bool = True) -> Any:
        body = {"name": name, "listen": listen, "upstream": upstream, "enabled": enabled}
        return self.request("POST", "/proxies", body)

    def update(self, name: str, **fields: Any) -> Any:
        return self.request("POST", f"/proxies/{name}", fields)

    def delete(self, name: str) -> None:
        self.request("DELETE", f"/proxies/{name}")

    def add_toxic(self, proxy: str, body: dict[str, Any]) -> Any:
        return self.request("POST", f"/proxies/{proxy}/toxics", body)

    def remove_toxic(self, proxy: str, toxic: str) -> None:
        self.request("DELETE", f"/proxies/{proxy}/toxics/{toxic}")

    def populate(self, proxies: Any) -> Any:
        return self.request("POST", "/populate", proxies)

    def reset(self) -> None:
        self.request("POST", "/reset")


__all__ = ["DEFAULT_API", "ProxyClient", "api_base"]
