"""Charts as inline SVG, computed server-side: they print, need no script, and a test can read
their data points from the markup.

``line_chart`` draws one or more series over a shared x axis (seconds) with a labelled y axis,
grid lines and a legend; a series given ``spans`` is drawn as steps, each sample over its own
interval (a short last interval stays short instead of being stretched to a whole second);
``bar_chart`` draws labelled bars (the latency distribution), labelling only as many bars as fit
without overlap (every bar keeps its label in its tooltip). Each chart shows its title and the
names of both axes. Every polyline carries ``data-series`` and ``data-points`` (its number of
samples); every bar carries ``data-label`` and ``data-value``. Text is escaped; colours come
from CSS variables so the page's dark mode applies.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape

PALETTE = ("var(--accent)", "var(--medium)", "var(--fail)", "var(--pass)", "var(--low)")
_PAD_L, _PAD_R, _PAD_T, _PAD_B = 52, 12, 34, 46
_CHAR_W = 6.2  # px per character of a 10 px tick label, for "does it fit"


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


def _frame(title: str, unit: str, x_label: str, width: int, height: int) -> list[str]:
    """The svg element, its visible title, and the names of both axes."""
    return [
        f'<svg class="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(title)}" data-chart="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<text class="chart-title" x="4" y="14">{escape(title)}</text>',
        f'<text class="axis-label" x="4" y="{_PAD_T - 10}">{escape(unit)}</text>',
        f'<text class="axis-label" x="{_PAD_L + (width - _PAD_L - _PAD_R) / 2:.1f}" '
        f'y="{height - _PAD_B + 28}" text-anchor="middle">{escape(x_label)}</text>',
    ]


def line_chart(
    series: Mapping[str, Sequence[tuple[float, float]]],
    *,
    title: str,
    unit: str,
    x_label: str = "seconds since the start",
    x_unit: str = " s",
    spans: Mapping[str, Sequence[float]] | None = None,
    width: int = 540,
    height: int = 220,
    max_points: int = 600,
) -> str:
    """An SVG line chart; empty string when no series has two points.

    ``spans``: for a series whose x is the end of an interval, each interval's length — the
    series is drawn as steps over ``[x - span, x]``, so every interval is as wide as it lasted.
    """
    spans = spans or {}
    stepped = {
        k: list(zip(v, spans[k], strict=True))
        for k, v in series.items()
        if k in spans and len(spans[k]) == len(v) and len(v) <= max_points and v
    }
    drawn = {k: _downsample(v, max_points) for k, v in series.items() if len(v) >= 2}
    drawn.update({k: list(series[k]) for k in stepped if len(series[k]) >= 1})
    if not any(len(v) >= 2 for v in drawn.values()):
        return ""
    xs = [x for pts in drawn.values() for x, _ in pts]
    xs += [x - span for pts in stepped.values() for (x, _), span in pts]
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

    parts = _frame(title, unit, x_label, width, height)
    tick = 0.0
    while tick <= y1 + 1e-9:
        y = py(tick)
        parts.append(
            f'<line class="grid" x1="{_PAD_L}" x2="{width - _PAD_R}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="tick" x="{_PAD_L - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{_fmt(tick)}</text>"
        )
        tick += step
    for frac, anchor in ((0.0, "start"), (0.5, "middle"), (1.0, "end")):  # inside the frame
        xv = x0 + frac * (x1 - x0)
        parts.append(
            f'<text class="tick" x="{px(xv):.1f}" y="{height - _PAD_B + 14}" '
            f'text-anchor="{anchor}">{_fmt(xv)}{escape(x_unit)}</text>'
        )
    parts.append(
        f'<line class="axis" x1="{_PAD_L}" x2="{_PAD_L}" y1="{_PAD_T}" y2="{_PAD_T + ph}"/>'
        f'<line class="axis" x1="{_PAD_L}" x2="{width - _PAD_R}" y1="{_PAD_T + ph}" '
        f'y2="{_PAD_T + ph}"/>'
    )
    lx = width - _PAD_R - sum(24 + 7 * len(name) for name in drawn)  # legend: top right
    for i, (name, pts) in enumerate(drawn.items()):
        colour = PALETTE[i % len(PALETTE)]
        if name in stepped:
            coords = " ".join(
                f"{px(x - span):.1f},{py(y):.1f} {px(x):.1f},{py(y):.1f}"
                for (x, y), span in stepped[name]
            )
        else:
            coords = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pts)
        parts.append(
            f'<polyline class="series" style="stroke: {colour}" data-series="{escape(name)}" '
            f'data-points="{len(pts)}" points="{coords}"><title>{escape(name)}</title></polyline>'
        )
        parts.append(
            f'<rect x="{lx}" y="7" width="10" height="3" style="fill: {colour}"/>'
            f'<text class="tick" x="{lx + 14}" y="12">{escape(name)}</text>'
        )
        lx += 24 + 7 * len(name)
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(
    bars: Sequence[tuple[str, float]],
    *,
    title: str,
    unit: str,
    x_label: str = "",
    width: int = 540,
    height: int = 220,
) -> str:
    """An SVG bar chart of labelled values; empty string when there is nothing to draw.

    Only every ``k``-th bar is labelled under the axis when the labels would overlap (the last
    bar always is); each bar's tooltip names it."""
    if not bars:
        return ""
    top = max(v for _, v in bars) or 1.0
    step = _nice_step(top)
    y1 = step * math.ceil(top / step)
    pw, ph = width - _PAD_L - _PAD_R, height - _PAD_T - _PAD_B
    slot = pw / len(bars)
    widest = max(len(label) for label, _ in bars) * _CHAR_W + 6
    every = max(1, math.ceil(widest / slot))
    parts = _frame(title, unit, x_label, width, height)
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
        )
        if (len(bars) - 1 - i) % every == 0:  # counted from the last bar, which is labelled
            parts.append(
                f'<text class="tick bar-label" x="{x + slot * 0.35:.1f}" '
                f'y="{height - _PAD_B + 14}" text-anchor="middle">{escape(label)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


__all__ = ["bar_chart", "line_chart"]
