"""How long the offline HS256 weak-secret search takes over the whole candidate list
(``jwt-weak-secret``: ~144,000 weak secrets and English words), beside the obvious peer —
PyJWT's ``jwt.decode`` tried with each candidate, as a hand-written cracking loop would — in
the same run.

    python bench/bench_jwt_crack.py [--runs 3]

The token is signed with the list's *last* candidate (the worst case: every entry is tried),
and with a secret in no list (a miss, also every entry). Goal (issue 19): under 5 s.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from collections.abc import Callable

import jwt as pyjwt

from battletest.auth import jwt as jwtlib
from battletest.security.checks.authn import wordlist


def _peer(token: str, words: list[str]) -> str | None:
    for word in words:
        try:
            pyjwt.decode(token, word, algorithms=["HS256"], options={"verify_exp": False})
        except pyjwt.InvalidSignatureError:
            continue
        return word
    return None


def _ours(token: str, words: list[str]) -> str | None:
    parsed = jwtlib.Jwt.parse(token)
    assert parsed is not None
    return jwtlib.crack(parsed, words)


def _median(
    fn: Callable[[str, list[str]], str | None], token: str, words: list[str], runs: int
) -> tuple[float, str | None]:
    times, found = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        found = fn(token, words)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")  # PyJWT warns about every short candidate key
    t0 = time.perf_counter()
    words = wordlist(10**7)
    load_s = time.perf_counter() - t0
    claims = {"sub": "bench", "role": "user"}
    cases = {
        "last candidate": jwtlib.sign_hmac(
            {"alg": "HS256", "typ": "JWT"}, claims, words[-1].encode()
        ),
        "not in the list": jwtlib.sign_hmac(
            {"alg": "HS256", "typ": "JWT"}, claims, b"a-random-32-byte-secret-nobody-guesses"
        ),
    }
    print(f"candidates: {len(words):,} (loaded in {load_s:.2f} s)")
    print("| case | battletest crack | PyJWT decode loop | ratio | found |")
    print("|---|---|---|---|---|")
    worst = 0.0
    for name, token in cases.items():
        ours, found = _median(_ours, token, words, args.runs)
        peer, peer_found = _median(_peer, token, words, max(1, args.runs - 2))
        assert found == peer_found, (found, peer_found)
        worst = max(worst, ours)
        print(
            f"| {name} | {ours:.2f} s | {peer:.2f} s | {peer / ours:.1f}x | {found is not None} |"
        )
    print(f"goal under 5 s: {'met' if worst + load_s < 5 else 'MISSED'} ({worst + load_s:.2f} s)")


if __name__ == "__main__":
    main()
