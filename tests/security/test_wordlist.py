"""The weak-secret list: common secrets first, then English dictionary words (SCOWL)."""

from __future__ import annotations

import pytest

from battletest.auth import jwt as jwtlib
from battletest.security.checks.authn import wordlist
from battletest.security.settings import BUDGETS


def _token(secret: str) -> jwtlib.Jwt:
    signed = jwtlib.sign_hmac({"alg": "HS256", "typ": "JWT"}, {"sub": "kim"}, secret.encode())
    parsed = jwtlib.Jwt.parse(signed)
    assert parsed is not None
    return parsed


def test_standard_depth_tries_over_100000_candidates_common_secrets_first() -> None:
    words = wordlist(BUDGETS["standard"].jwt_wordlist)
    assert len(words) >= 100_000
    assert len(set(words)) == len(words)
    assert words[0] == "secret"  # the shipped weak secrets lead
    assert len(wordlist(BUDGETS["basic"].jwt_wordlist)) < len(words)


@pytest.mark.slow
def test_a_dictionary_word_secret_is_cracked() -> None:
    # British and American spellings and capitalised words: none in the old 2,826 list
    words = wordlist(BUDGETS["standard"].jwt_wordlist)
    assert {"harbour", "harbor", "gazebo", "Gazebo"} <= set(words)
    assert jwtlib.crack(_token("Cornflower"), words) == "Cornflower"
    assert jwtlib.crack(_token("x9$Qz!random-not-a-word"), words[:5000]) is None
