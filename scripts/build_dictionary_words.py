"""Build ``src/battletest/security/data/dictionary-words.txt.gz``: the English words of
Debian's ``wamerican`` and ``wbritish`` packages (SCOWL, by Kevin Atkinson; licence in
``dictionary-words-LICENSE.txt`` beside it), possessives left out, in the packages' order.

    apt-get install wamerican wbritish && python scripts/build_dictionary_words.py

The JWT weak-secret check tries these after its list of known weak secrets (and each
lower-case word capitalised as well)."""

from __future__ import annotations

import gzip
from pathlib import Path

SOURCES = ("/usr/share/dict/american-english", "/usr/share/dict/british-english")
OUT = Path(__file__).resolve().parents[1] / "src/battletest/security/data/dictionary-words.txt.gz"


def main() -> None:
    seen: dict[str, None] = {}
    for source in SOURCES:
        for line in Path(source).read_text(encoding="utf-8").splitlines():
            word = line.strip()
            if word and not word.endswith("'s"):
                seen.setdefault(word)
    # mtime=0: the same words give the same bytes (a reviewable, reproducible file)
    OUT.write_bytes(gzip.compress(("\n".join(seen) + "\n").encode(), mtime=0))
    print(f"{len(seen)} words -> {OUT}")


if __name__ == "__main__":
    main()
