"""The fault proxy: a TCP proxy with Toxiproxy's toxics and API, plus HTTP-level faults.

``FaultProxy`` drives it from synchronous code (tests, scripts, failure scenarios);
``ProxyServer`` is the async core for code already inside an event loop; ``create_app`` is the
Toxiproxy-compatible REST API; ``battletest proxy`` is the CLI. See docs/proxy.md.
"""

from __future__ import annotations

from battletest.chaos.proxy.core import (
    AlreadyExists,
    ListenError,
    Proxy,
    ProxyNotFound,
    ProxyServer,
)
from battletest.chaos.proxy.facade import FaultProxy, load_populate_file, serve_api
from battletest.chaos.proxy.netem import NetemStatus, detect_netem
from battletest.chaos.proxy.toxics import Attribute, Toxic, ToxicKind, ToxicKinds

__all__ = [
    "AlreadyExists",
    "Attribute",
    "FaultProxy",
    "ListenError",
    "NetemStatus",
    "Proxy",
    "ProxyNotFound",
    "ProxyServer",
    "Toxic",
    "ToxicKind",
    "ToxicKinds",
    "detect_netem",
    "load_populate_file",
    "serve_api",
]
