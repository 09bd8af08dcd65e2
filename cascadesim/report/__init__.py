"""What a run or a sweep shows: plots, the HTML reports (one page shell) and the atomic
writing of every output folder.

Imports ``sim`` and below (a sweep's tables are passed in, not imported); imported by
``sweep`` and ``cli``. matplotlib is loaded by the figure modules only (``plots``,
``asset_plots``, ``heatmap``, ``figures`` and ``sweep_plots``).
"""

from importlib import import_module
from typing import Any

# Lazy: ``cascadesim.report.output`` is imported by sweeps and the CLI before any figure
# is drawn, and matplotlib costs about a second to import.
_EXPORTS = {
    "write_outputs": "cascadesim.report.output",
    "plot_price": "cascadesim.report.plots",
    "plot_liquidation_map": "cascadesim.report.plots",
    "plot_book_depth": "cascadesim.report.plots",
    "plot_open_interest": "cascadesim.report.plots",
    "plot_assets": "cascadesim.report.asset_plots",
    "plot_breakdown": "cascadesim.report.asset_plots",
    "plot_asset_liquidation_maps": "cascadesim.report.asset_plots",
    "plot_liquidation_heatmap": "cascadesim.report.heatmap",
    "write_plots": "cascadesim.report.figures",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'cascadesim.report' has no attribute {name!r}")
