"""Small bar charts as inline SVG, rendered on the server (no script, every label escaped)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

BAR_COLOUR = "#3b6ea8"


def bar_chart(
    values: Sequence[float],
    labels: Sequence[str],
    *,
    title: str,
    width: int = 360,
    height: int = 90,
    colours: Sequence[str] | None = None,
    top: float | None = None,
    unit: str = "",
) -> Markup:
    """One bar per value, with a value axis (0, half and `top`, gridlines) on the left; each
    bar's tooltip is "label: value".

    `top` is the scale's maximum: give small multiples the same one, so equal bars mean equal
    values. By default the largest value. Only the first and last labels are drawn under the
    axis (they are usually a range)."""
    n = max(len(values), 1)
    top = top or max(values, default=0) or 1
    label_h = 14
    axis_w = 34
    pad_top = 6
    plot_h = height - label_h - pad_top
    plot_w = width - axis_w
    step = plot_w / n
    gap = min(2.0, step / 4)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    for tick in (0.0, top / 2, top):
        y = pad_top + plot_h - plot_h * tick / top
        parts.append(
            f'<line class="grid" x1="{axis_w}" x2="{width}" y1="{y:.1f}" y2="{y:.1f}" '
            'stroke="#ddd" stroke-width="1"/>'
            f'<text class="tick" x="{axis_w - 3}" y="{y + 3.5:.1f}" font-size="10" '
            f'text-anchor="end">{_number(tick)}{escape(unit)}</text>'
        )
    for i, (value, label) in enumerate(zip(values, labels, strict=True)):
        h = plot_h * min(value, top) / top
        colour = colours[i] if colours else BAR_COLOUR
        parts.append(
            f'<rect x="{axis_w + i * step + gap / 2:.1f}" y="{pad_top + plot_h - h:.1f}" '
            f'width="{max(step - gap, 1):.1f}" height="{h:.1f}" fill="{escape(colour)}">'
            f"<title>{escape(label)}: {_number(value)}{escape(unit)}</title></rect>"
        )
    if labels:
        y = height - 3
        parts.append(f'<text x="{axis_w}" y="{y}" font-size="10">{escape(labels[0])}</text>')
        if len(labels) > 1:
            parts.append(
                f'<text x="{width}" y="{y}" font-size="10" text-anchor="end">'
                f"{escape(labels[-1])}</text>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))


def _number(x: float) -> str:
    return f"{x:.0f}" if abs(x - round(x)) < 0.05 or abs(x) >= 10 else f"{x:.1f}"
