"""Scenario files: pydantic models of the TOML tables, their checks, the build into an
:class:`~cascadesim.model.market.EngineSetup`, profiles and the bundled files.

Imports :mod:`cascadesim.model`; imported by ``events``, ``sweep``, ``report`` and ``cli``.
"""

from cascadesim.scenario.bundled import bundled_directory, bundled_scenarios, resolve_scenario
from cascadesim.scenario.models import Scenario

__all__ = ["Scenario", "bundled_directory", "bundled_scenarios", "resolve_scenario"]
