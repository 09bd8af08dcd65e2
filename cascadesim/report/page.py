"""The one page shell of every HTML file cascadesim writes, and the helpers pages share.

A page opens offline from ``file://``: the CSS is inline, plots are embedded as base64 PNG
data URIs, no web font, no request to any server. Every string that comes from a user's
file (a scenario or market name) goes through :func:`escape`.
"""

from __future__ import annotations

import base64
import html
import math
import os
import pathlib
from collections.abc import Iterable, Mapping

from cascadesim._util.files import write_atomically

STYLE = """
body { font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       margin: 0 auto; max-width: 1180px; padding: 1.5em 2em; color: #1d1d1f;
       line-height: 1.45; }
h1 { font-size: 1.7em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; margin-top: 1.8em; border-bottom: 1px solid #ddd;
     padding-bottom: 0.2em; }
.provenance { color: #555; font-size: 0.95em; }
.provenance code { background: #f3f3f3; padding: 0.05em 0.3em; border-radius: 3px; }
.headline { font-size: 1.1em; background: #f6f8fb; border-left: 4px solid #1f3b73;
            padding: 0.6em 1em; }
ul.assets { margin-top: 0.4em; }
.assumptions { background: #fafafa; border: 1px solid #ddd; padding: 0.2em 1.2em 0.6em;
               margin-top: 1.2em; font-size: 0.92em; }
.assumptions h2 { margin-top: 0.6em; border-bottom: none; }
caption { caption-side: bottom; text-align: left; color: #555; font-size: 0.9em;
          padding-top: 0.3em; }
.warning { background: #fff4e5; border-left: 4px solid #e69500; padding: 0.5em 1em; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.92em; }
th, td { padding: 0.3em 0.7em; border-bottom: 1px solid #e5e5e5; text-align: right;
         white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
thead th { background: #f3f3f3; }
.scroll { overflow-x: auto; }
figure { margin: 1.5em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #e5e5e5; }
figcaption { color: #444; font-size: 0.95em; margin-top: 0.4em; }
pre { background: #f6f6f6; padding: 1em; overflow-x: auto; font-size: 0.88em;
      border: 1px solid #e5e5e5; }
footer { color: #777; font-size: 0.85em; margin-top: 2em; }
@media print {
  body { max-width: none; padding: 0; font-size: 10pt; }
  h2 { break-before: page; break-after: avoid; }
  h2:first-of-type { break-before: auto; }
  figure, table, .headline, ol.story, .assumptions { break-inside: avoid; }
  .assumptions h2 { break-before: auto; }
  .scroll { overflow: visible; }
  table { font-size: 8pt; }
  th, td { white-space: normal; padding: 0.2em 0.4em; }
  pre { white-space: pre-wrap; overflow-wrap: anywhere; font-size: 7.5pt; }
  figure img { max-width: 100%; border: none; }
}
"""


def escape(value: object) -> str:
    """HTML-escaped text of any value (quotes too: it may land in an attribute)."""
    return html.escape(str(value), quote=True)


def exact(value: object) -> str:
    """The exact figure behind a compact one, for the cell's tooltip."""
    if isinstance(value, float) and math.isfinite(value):
        # Money to the cent; fractions and ratios to six significant figures.
        return f"{value:,.2f}" if abs(value) >= 1000 else f"{value:.6g}"
    return str(value)


def recorded(value: object) -> str:
    """Provenance value as shown: ``not recorded`` where a hand-built setup has none."""
    return "not recorded" if value is None or value == "" else str(value)


# A plot to embed: its PNG file, or (file stem, PNG bytes) as rendered, which the report then
# embeds without reading back the file written from the same bytes.
PlotSource = os.PathLike | str | tuple[str, bytes]


def plot_png(source: PlotSource) -> tuple[str, bytes]:
    """(file stem, PNG bytes) of a plot given as rendered bytes or as its file."""
    if isinstance(source, tuple):
        stem, data = source
        return stem, data
    path = pathlib.Path(source)
    return path.stem, path.read_bytes()


def assumptions_box(rows: Iterable[tuple[str, str]]) -> str:
    """The boxed list of a report's assumptions: (heading, text) pairs, escaped."""
    items = "".join(
        f"<li><strong>{escape(heading)}.</strong> {escape(text)}</li>" for heading, text in rows
    )
    return f'<div class="assumptions"><h2>Assumptions</h2><ul>{items}</ul></div>'


def header_cells(labels: Iterable[str]) -> str:
    """``<th scope="col">`` cells of a table's header row, escaped."""
    return "".join(f'<th scope="col">{escape(label)}</th>' for label in labels)


def value_cells(row: Mapping, columns: Iterable[tuple]) -> str:
    """One ``<td>`` per (key, label, formatter) column: the formatted value, exact on hover."""
    return "".join(
        f'<td title="{escape(exact(row[key]))}">{escape(formatter(row[key]))}</td>'
        for key, _, formatter in columns
    )


def scroll_table(head: str, rows: Iterable[str]) -> str:
    """A table (header cells, body rows) that scrolls sideways rather than widen the page."""
    return (
        '<div class="scroll"><table>\n<thead><tr>'
        + head
        + "</tr></thead>\n<tbody>\n"
        + "\n".join(rows)
        + "\n</tbody></table></div>"
    )


def figure_html(source: PlotSource, captions: Mapping[str, str]) -> str:
    """An embedded PNG (base64 data URI) with its caption (by file stem)."""
    stem, png = plot_png(source)
    data = base64.b64encode(png).decode("ascii")
    caption = captions.get(stem, stem.replace("_", " ").capitalize() + ".")
    return (
        f'<figure id="{escape(stem)}">\n<img src="data:image/png;base64,{data}" '
        f'alt="{escape(stem.replace("_", " "))} plot">\n'
        f"<figcaption>{escape(caption)}</figcaption>\n</figure>"
    )


def figures_html(sources: Iterable[PlotSource], captions: Mapping[str, str]) -> str:
    """Every plot of ``sources``, in order, as embedded figures."""
    return "\n".join(figure_html(source, captions) for source in sources)


def page(title: str, body: str, footer: str) -> str:
    """A complete HTML document: ``body`` (trusted HTML) under an escaped ``title``.

    ``footer`` (trusted HTML) is followed by the sentence every page ends with.
    """
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<style>{STYLE}</style>
</head>
<body>
{body}
<footer>{footer} This file is self-contained and opens
without a network connection.</footer>
</body>
</html>
"""


def write_page(path: os.PathLike | str, text: str) -> pathlib.Path:
    """Write an HTML page atomically (complete or absent), creating its folder."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_atomically(path, text.encode("utf-8"))
