"""Numba kernels only: order book, margin, liquidation, funding and the step loop.

Nothing here validates input; the layers above (:mod:`cascadesim.sim` and
:mod:`cascadesim.model`) check arguments and turn kernel status codes into errors or result
columns. Imports nothing else of the package; every other subpackage may import it.
"""
