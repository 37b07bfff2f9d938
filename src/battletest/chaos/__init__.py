"""Chaos: fault proxy, mock dependency server, named failure scenarios, experiments and the
resilience suite built on them."""
