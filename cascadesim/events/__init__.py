"""Real liquidation days: replay and shock modes, ``validate`` (simulated against reported),
``calibrate`` (one parameter set for the library) and the aggregators' reporting model.

Imports ``sim``, ``scenario`` and below; imported by ``cli``.
"""
