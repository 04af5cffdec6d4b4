"""Charts as inline SVG, drawn on the server (issue 12: pictures beside their tables).

No JavaScript and nothing from the internet: each chart is a small ``<svg role="img">`` with a
title, one ``<title>`` per bar (the figure on hover and for screen readers), and the same figures
in the table printed beside it. Labels are escaped; colours come from a fixed palette that keeps
WCAG AA contrast against white for the legend's text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from markupsafe import Markup, escape

# (key, label, colour) of each stacked series, in drawing order.
Series = Sequence[tuple[str, str, str]]

GREEN, BLUE, RED, ORANGE, GREY = "#1e7b34", "#1d5fa8", "#b3261e", "#a15c00", "#6b7480"
WIDTH = 640


def _n(value: int) -> str:
    """A count the Vietnamese way: 12.345."""
    return f"{value:,}".replace(",", ".")


def _short(name: str) -> str:
    """An axis label: ``YYYY-MM-DD HH`` → ``HHh``, ``YYYY-MM-DD`` → ``DD/MM``."""
    if len(name) == 13 and name[10] == " ":
        return f"{name[11:]}h"
    if len(name) == 10 and name[4] == "-":
        return f"{name[8:]}/{name[5:7]}"
    return name[-8:]


def _legend(series: Series, y: int) -> str:
    parts, x = [], 0
    for _key, label, colour in series:
        parts.append(
            f'<rect x="{x}" y="{y}" width="12" height="12" fill="{colour}"/>'
            f'<text x="{x + 16}" y="{y + 11}" font-size="12">{escape(label)}</text>'
        )
        x += 24 + 7 * len(label)
    return "".join(parts)


def stacked_bars(
    title: str, rows: Mapping[str, Mapping[str, int]], series: Series, unit: str = ""
) -> Markup:
    """Horizontal stacked bars: one row per label, the series side by side, to scale."""
    label_w, bar_h, gap = 170, 18, 6
    biggest = max((sum(v.get(k, 0) for k, _l, _c in series) for v in rows.values()), default=0)
    scale = (WIDTH - label_w - 60) / biggest if biggest else 0
    height = len(rows) * (bar_h + gap) + 30
    out = [
        f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {height}" '
        f'preserveAspectRatio="xMinYMin meet" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>"
    ]
    for i, (name, values) in enumerate(rows.items()):
        y = i * (bar_h + gap)
        out.append(
            f'<text x="{label_w - 6}" y="{y + 13}" font-size="12" text-anchor="end">'
            f"{escape(name[:28])}</text>"
        )
        x = float(label_w)
        for key, label, colour in series:
            n = values.get(key, 0)
            if n:
                w = max(1.0, n * scale)
                out.append(
                    f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{colour}">'
                    f"<title>{escape(name)}: {escape(label)} {_n(n)} {escape(unit)}</title></rect>"
                )
                x += w
        total = sum(values.get(k, 0) for k, _l, _c in series)
        out.append(f'<text x="{x + 4:.1f}" y="{y + 13}" font-size="12">{_n(total)}</text>')
    out.append(_legend(series, height - 16))
    out.append("</svg>")
    return Markup("".join(out))  # noqa: S704  (every text above went through escape())


def columns(
    title: str,
    points: Mapping[str, Mapping[str, int]],
    series: Series,
    marked: frozenset[str] = frozenset(),
    mark_label: str = "",
) -> Markup:
    """Vertical stacked columns over time (labels in order); ``marked`` labels get a band
    behind their column (e.g. the days of a broadcast)."""
    top, bottom, left = 10, 40, 40
    height = 220
    plot_h = height - top - bottom
    n = max(1, len(points))
    step = (WIDTH - left - 10) / n
    col_w = min(40.0, max(1.0, step * 0.8))
    biggest = max((sum(v.get(k, 0) for k, _l, _c in series) for v in points.values()), default=0)
    scale = plot_h / biggest if biggest else 0
    out = [
        f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {height}" '
        f'preserveAspectRatio="xMinYMin meet" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>",
        f'<text x="{left - 4}" y="{top + 10}" font-size="11" text-anchor="end">{_n(biggest)}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{WIDTH - 10}" y2="{top + plot_h}" '
        'stroke="#d9dde3"/>',
    ]
    every = -(-n // 8)  # at most eight labels under the axis
    for i, (name, values) in enumerate(points.items()):
        x = left + i * step
        if name in marked:
            out.append(
                f'<rect class="mark" x="{x:.1f}" y="{top}" width="{step:.1f}" height="{plot_h}" '
                f'fill="#ffe08a"><title>{escape(name)}: {escape(mark_label)}</title></rect>'
            )
        y = float(top + plot_h)
        for key, label, colour in series:
            v = values.get(key, 0)
            if v:
                h = max(1.0, v * scale)
                y -= h
                out.append(
                    f'<rect x="{x:.1f}" y="{y:.1f}" width="{col_w:.1f}" height="{h:.1f}" '
                    f'fill="{colour}"><title>{escape(name)}: {escape(label)} {_n(v)}</title></rect>'
                )
        if i % every == 0:
            out.append(
                f'<text x="{x:.1f}" y="{top + plot_h + 14}" font-size="10">'
                f"{escape(_short(name))}</text>"
            )
    out.append(_legend(series, height - 14))
    if marked and mark_label:
        out.append(
            f'<rect x="{WIDTH - 150}" y="{height - 14}" width="12" height="12" fill="#ffe08a"/>'
            f'<text x="{WIDTH - 134}" y="{height - 3}" font-size="12">{escape(mark_label)}</text>'
        )
    out.append("</svg>")
    return Markup("".join(out))  # noqa: S704  (every text above went through escape())
