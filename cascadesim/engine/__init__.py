"""Numba kernels only: order book, margin, liquidation, funding and the step loop.

:mod:`cascadesim.engine.compile_cache` decides where their compiled code is cached; it is
installed here, before any kernel module is imported.

Nothing here validates input; the layers above (:mod:`cascadesim.sim` and
:mod:`cascadesim.model`) check arguments and turn kernel status codes into errors or result
columns. Imports nothing else of the package; every other subpackage may import it.
"""

from cascadesim.engine import compile_cache as _compile_cache

# Before any kernel module is imported: every kernel's cache decorator asks the locators.
_compile_cache.install()
