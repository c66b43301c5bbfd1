"""Scenarios: the step data (``steps``), and the loader that reads ``*.pop3`` files."""

from __future__ import annotations

from conformance.scenario.errors import ScenarioError
from conformance.scenario.loader import discover, load_all, load_scenario, parse_scenario
from conformance.scenario.steps import Scenario

__all__ = [
    "Scenario",
    "ScenarioError",
    "discover",
    "load_all",
    "load_scenario",
    "parse_scenario",
]
