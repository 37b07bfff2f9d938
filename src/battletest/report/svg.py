"""Charts as inline SVG, computed server-side: they print, need no script, and a test can read
their data points from the markup.

``line_chart`` draws one or more series over a shared x axis (seconds) with a labelled y axis,
grid lines and a legend; ``bar_chart`` draws labelled bars (the latency distribution). Every
polyline carries ``data-series`` and ``data-points`` (its number of points); every bar carries
``data-label`` and ``data-value``. Text is escaped; colours come from CSS variables so the page's
dark mode applies.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape

PALETTE = ("var(--accent)", "var(--medium)", "var(--fail)", "var(--pass)", "var(--low)")
_PAD_L, _PAD_R, _PAD_T, _PAD_B = 52, 12, 10, 34


def _nice_step(span: float, ticks: int = 4) -> float:
    raw = span / max(ticks, 1)
    if raw <= 0 or not math.isfinite(raw):
        return 1.0
    mag = float(10 ** math.floor(math.log10(raw)))
    for m in (1, 2, 2.5, 5, 10):
        if m * mag >= raw:
            return float(m * mag)
    return float(10 * mag)


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1000:
        return f"{v / 1000:g}k"
    return f"{v:.3g}"


def _downsample(points: Sequence[tuple[float, float]], limit: int) -> list[tuple[float, float]]:
    """At most ``limit`` points: keep each bucket's largest value (peaks stay visible)."""
    if len(points) <= limit:
        return list(points)
    size = len(points) / limit
    out = []
    for i in range(limit):
        bucket = points[int(i * size) : max(int((i + 1) * size), int(i * size) + 1)]
        out.append(max(bucket, key=lambda p: p[1]))
    return out


def line_chart(
    series: Mapping[str, Sequence[tuple[float, float]]],
    *,
    title: str,
    unit: str,
    width: int = 540,
    height: int = 200,
    max_points: int = 600,
) -> str:
    """An SVG line chart; empty string when no series has two points."""
    drawn = {k: _downsample(v, max_points) for k, v in series.items() if len(v) >= 2}
    if not drawn:
        return ""
    xs = [x for pts in drawn.values() for x, _ in pts]
    ys = [y for pts in drawn.values() for _, y in pts]
    x0, x1 = min(xs), max(xs)
    x1 = x1 if x1 > x0 else x0 + 1
    step = _nice_step(max(ys) or 1.0)
    y1 = step * math.ceil((max(ys) or 1.0) / step)
    pw, ph = width - _PAD_L - _PAD_R, height - _PAD_T - _PAD_B

    def px(x: float) -> float:
        return _PAD_L + (x - x0) / (x1 - x0) * pw

    def py(y: float) -> float:
        return _PAD_T + ph - (y / y1) * ph if y1 else _PAD_T + ph

    parts = [
        f'<svg class="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(title)}" data-chart="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    tick = 0.0
    while tick <= y1 + 1e-9:
        y = py(tick)
        parts.append(
            f'<line class="grid" x1="{_PAD_L}" x2="{width - _PAD_R}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="tick" x="{_PAD_L - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{_fmt(tick)}</text>"
        )
        tick += step
    for frac in (0.0, 0.5, 1.0):
        xv = x0 + frac * (x1 - x0)
        parts.append(
            f'<text class="tick" x="{px(xv):.1f}" y="{height - _PAD_B + 14}" '
            f'text-anchor="middle">{_fmt(xv)} s</text>'
        )
    parts.append(
        f'<text class="tick" x="4" y="{_PAD_T + 8}">{escape(unit)}</text>'
        f'<line class="axis" x1="{_PAD_L}" x2="{_PAD_L}" y1="{_PAD_T}" y2="{_PAD_T + ph}"/>'
        f'<line class="axis" x1="{_PAD_L}" x2="{width - _PAD_R}" y1="{_PAD_T + ph}" '
        f'y2="{_PAD_T + ph}"/>'
    )
    lx = _PAD_L
    for i, (name, pts) in enumerate(drawn.items()):
        colour = PALETTE[i % len(PALETTE)]
        coords = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pts)
        parts.append(
            f'<polyline class="series" style="stroke: {colour}" data-series="{escape(name)}" '
            f'data-points="{len(pts)}" points="{coords}"><title>{escape(name)}</title></polyline>'
        )
        parts.append(
            f'<rect x="{lx}" y="{height - 12}" width="10" height="3" style="fill: {colour}"/>'
            f'<text class="tick" x="{lx + 14}" y="{height - 8}">{escape(name)}</text>'
        )
        lx += 24 + 7 * len(name)
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(
    bars: Sequence[tuple[str, float]], *, title: str, unit: str, width: int = 540, height: int = 200
) -> str:
    """An SVG bar chart of labelled values; empty string when there is nothing to draw."""
    if not bars:
        return ""
    top = max(v for _, v in bars) or 1.0
    step = _nice_step(top)
    y1 = step * math.ceil(top / step)
    pw, ph = width - _PAD_L - _PAD_R, height - _PAD_T - _PAD_B
    slot = pw / len(bars)
    parts = [
        f'<svg class="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(title)}" data-chart="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<text class="tick" x="4" y="{_PAD_T + 8}">{escape(unit)}</text>',
    ]
    tick = 0.0
    while tick <= y1 + 1e-9:
        y = _PAD_T + ph - tick / y1 * ph
        parts.append(
            f'<line class="grid" x1="{_PAD_L}" x2="{width - _PAD_R}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="tick" x="{_PAD_L - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{_fmt(tick)}</text>"
        )
        tick += step
    for i, (label, value) in enumerate(bars):
        h = value / y1 * ph
        x = _PAD_L + i * slot + slot * 0.15
        parts.append(
            f'<rect class="dist-bar" x="{x:.1f}" y="{_PAD_T + ph - h:.1f}" width="{slot * 0.7:.1f}" '
            f'height="{h:.1f}" data-label="{escape(label)}" data-value="{value:g}">'
            f"<title>{escape(label)}: {value:g} {escape(unit)}</title></rect>"
            f'<text class="tick" x="{x + slot * 0.35:.1f}" y="{height - _PAD_B + 14}" '
            f'text-anchor="middle">{escape(label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


__all__ = ["bar_chart", "line_chart"]
