"""Record and replay: one recording (HAR 1.2) becomes a regression check, a mock and a load
scenario (docs/replay.md).

``har`` (the format, VCR.py cassettes in), ``correlate`` (reused values as placeholders,
secrets out), ``masks`` (volatile fields: kinds, recognisers, learning, the masks file),
``diff`` (a recorded answer against a new one), ``recorder`` (the recording proxy),
``player`` (replay as regression), ``convert`` (to mock stubs, a load scenario, pytest tests).
"""
