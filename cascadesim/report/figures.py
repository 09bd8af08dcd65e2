"""Every figure of a run, drawn once to PNG bytes and written as files.

:func:`plots_of` says which figures a result gets (a run of several markets adds the
breakdown by venue and asset, one panel per asset and the liquidation map per asset);
:func:`render_plots` draws each once on the Agg canvas; :func:`write_plots` writes the same
bytes as PNG files, each atomically, and the report embeds them.
"""

from __future__ import annotations

import contextlib
import gc
import os
import pathlib
from collections.abc import Callable, Iterator
from typing import NamedTuple

from matplotlib.figure import Figure

from cascadesim._util.files import write_atomically
from cascadesim.report.asset_plots import (
    plot_asset_liquidation_maps,
    plot_assets,
    plot_breakdown,
)
from cascadesim.report.heatmap import plot_liquidation_heatmap
from cascadesim.report.plots import (
    PNG_DPI,
    plot_book_depth,
    plot_liquidation_map,
    plot_open_interest,
    plot_price,
    png_bytes,
)

PLOTS = (
    ("price", plot_price),
    ("liquidation_map", plot_liquidation_map),
    ("liquidation_heatmap", plot_liquidation_heatmap),
    ("book_depth", plot_book_depth),
    ("open_interest", plot_open_interest),
)
# Only for runs of several markets (each returns None for a run they do not describe).
SEVERAL_MARKET_PLOTS = (
    ("breakdown", plot_breakdown),
    ("assets", plot_assets),
    ("asset_liquidation_maps", plot_asset_liquidation_maps),
)


class RenderedPlot(NamedTuple):
    """One figure of a result as PNG: the file stem it is written under, and its bytes."""

    stem: str
    png: bytes


def plots_of(result) -> list[tuple[str, Callable[..., Figure | None]]]:
    """(file stem, plot function) of every figure of a result, in the order they are shown."""
    plots: list[tuple[str, Callable[..., Figure | None]]] = list(PLOTS)
    if len(result.market_names) > 1:
        # Each returns None where it has nothing to show (one venue and one asset, say).
        plots[1:1] = SEVERAL_MARKET_PLOTS
    return plots


@contextlib.contextmanager
def automatic_collection_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for the block, then restore its previous state.

    Drawing a figure allocates tens of thousands of small objects, which set off full
    collections over everything the process holds (after a run: about 270,000 objects of
    the Result, pandas and numba), each a sizeable share of a figure's drawing time. The
    figures' own cycles are freed by the next collection after the block.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def render_plots(result, dpi: int = PNG_DPI) -> list[RenderedPlot]:
    """Every figure of a result drawn once, as PNG bytes (see :func:`write_plots`)."""
    rendered = []
    with automatic_collection_paused():
        for stem, plot in plots_of(result):
            figure = plot(result)
            if figure is not None:
                rendered.append(RenderedPlot(stem, png_bytes(figure, dpi)))
    return rendered


def save_plots(rendered: list[RenderedPlot], directory: str | os.PathLike) -> list[pathlib.Path]:
    """Write rendered figures as ``<stem>.png`` files in ``directory``, each atomically."""
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    return [write_atomically(directory / f"{plot.stem}.png", plot.png) for plot in rendered]


def write_plots(result, directory: str | os.PathLike, dpi: int = PNG_DPI) -> list[pathlib.Path]:
    """Render every plot of a result to PNG files in ``directory``.

    Parameters
    ----------
    result : cascadesim.sim.result.Result
    directory : path, created if missing
    dpi : int, resolution of the PNG files

    Returns
    -------
    list of pathlib.Path
        ``price.png``, then for a run of several markets ``breakdown.png``, ``assets.png``
        and (several assets) ``asset_liquidation_maps.png``, then ``liquidation_map.png``,
        ``liquidation_heatmap.png``, ``book_depth.png`` and ``open_interest.png``. Each file
        is written under a temporary name and renamed, so it is complete or absent.
    """
    return save_plots(render_plots(result, dpi), directory)
