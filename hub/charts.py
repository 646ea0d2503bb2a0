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
) -> Markup:
    """One bar per value, scaled to the largest; each bar's tooltip is "label: value".

    Only the first and last labels are drawn under the axis (they are usually a range)."""
    n = max(len(values), 1)
    top = max(values, default=0) or 1
    label_h = 14
    plot_h = height - label_h
    step = width / n
    gap = min(2.0, step / 4)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    for i, (value, label) in enumerate(zip(values, labels, strict=True)):
        h = plot_h * value / top
        colour = colours[i] if colours else BAR_COLOUR
        parts.append(
            f'<rect x="{i * step + gap / 2:.1f}" y="{plot_h - h:.1f}" '
            f'width="{max(step - gap, 1):.1f}" height="{h:.1f}" fill="{escape(colour)}">'
            f"<title>{escape(label)}: {value:g}</title></rect>"
        )
    if labels:
        y = height - 3
        parts.append(f'<text x="0" y="{y}" font-size="10">{escape(labels[0])}</text>')
        if len(labels) > 1:
            parts.append(
                f'<text x="{width}" y="{y}" font-size="10" text-anchor="end">'
                f"{escape(labels[-1])}</text>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))
