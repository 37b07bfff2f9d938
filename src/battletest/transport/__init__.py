"""The one way requests leave battletest: clients, identities, the write policy, pacing,
retries, evidence and curl (docs/transport.md)."""

from __future__ import annotations

from battletest.transport.client import (
    PURPOSE,
    IdentityBroken,
    Inconclusive,
    RateLimited,
    Transport,
)
from battletest.transport.evidence import Exchange, curl, curl_command
from battletest.transport.identities import Identities, IdentitySession
from battletest.transport.pacing import ANONYMOUS, Pacer, retry_after
from battletest.transport.policy import (
    USER_COLLECTIONS,
    USER_PARAMS,
    Decision,
    DecisionKind,
    PolicyRefused,
    Risk,
    WritePolicy,
    classify,
    classify_operation,
    own_profile,
)

__all__ = [
    "ANONYMOUS",
    "PURPOSE",
    "USER_COLLECTIONS",
    "USER_PARAMS",
    "Decision",
    "DecisionKind",
    "Exchange",
    "Identities",
    "IdentityBroken",
    "IdentitySession",
    "Inconclusive",
    "Pacer",
    "PolicyRefused",
    "RateLimited",
    "Risk",
    "Transport",
    "WritePolicy",
    "classify",
    "classify_operation",
    "curl",
    "curl_command",
    "own_profile",
    "retry_after",
]
