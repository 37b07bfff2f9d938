"""Is kernel netem usable here? Packet loss and partitions say which implementation ran.

netem needs the ``tc`` tool, the ``sch_netem`` kernel module and CAP_NET_ADMIN. Where any is
missing (containers, CI runners) the proxy's own probabilistic loss and blackhole are used, and
every ``packet_loss``/``blackhole`` toxic reports ``"implementation": "proxy (…reason…)"``.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class NetemStatus:
    available: bool
    reason: str


def _module_present() -> bool:
    if Path("/sys/module/sch_netem").exists():
        return True
    modprobe = shutil.which("modprobe")
    if modprobe is None:
        return False
    try:
        probe = subprocess.run(
            [modprobe, "-n", "-q", "sch_netem"], capture_output=True, timeout=5, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


def _has_net_admin() -> bool:
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return False
    for line in status.splitlines():
        if line.startswith("CapEff:"):
            return bool(int(line.split()[1], 16) & (1 << 12))  # CAP_NET_ADMIN
    return os.geteuid() == 0


@functools.cache
def detect_netem() -> NetemStatus:
    """Probe once per process; never changes the system."""
    if shutil.which("tc") is None:
        return NetemStatus(False, "the tc tool is not installed")
    if not _module_present():
        return NetemStatus(False, "the sch_netem kernel module is not available")
    if not _has_net_admin():
        return NetemStatus(False, "no CAP_NET_ADMIN to change queueing disciplines")
    return NetemStatus(True, "tc, sch_netem and CAP_NET_ADMIN present")


def loss_implementation() -> str:
    """What ``packet_loss`` and ``blackhole`` run on, for the toxic's JSON and the docs."""
    status = detect_netem()
    if status.available:
        return (
            "proxy (kernel netem detected; battletest keeps to the proxy so loopback traffic of "
            "other processes is never touched)"
        )
    return f"proxy (kernel netem unavailable: {status.reason})"


__all__ = ["NetemStatus", "detect_netem", "loss_implementation"]
