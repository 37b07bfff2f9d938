"""The built-in target: a hotel voice-concierge API with its PMS and TTS dependencies.

``start(**options) -> DemoHandle`` runs the concierge app, the PMS and the TTS as three
processes on loopback; ``battletest demo serve`` is the CLI form. ``insecure=True`` plants the
18 documented vulnerabilities (docs/demo.md) that the secure demo closes.
"""

from __future__ import annotations

from battletest.demo.launcher import DemoHandle, Identity, start
from battletest.demo.options import VULNERABILITIES, DemoOptions

__all__ = ["VULNERABILITIES", "DemoHandle", "DemoOptions", "Identity", "start"]
