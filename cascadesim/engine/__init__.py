"""Numba kernels only: order book, margin, liquidation, funding and the step loop.

Nothing here validates input; the public layer above (``cascadesim.simulation``,
``cascadesim.margin``) checks arguments and turns kernel status codes into errors or result
columns.
"""
