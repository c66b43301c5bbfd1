"""The pytest plugin: scenario files as pytest items (Tavern's split).

Hooks add the options and collect ``*.pop3`` files; a file yields one item;
the item runs its scenario and renders its own failure.  The plugin is
registered through the ``pytest11`` entry point, so it is loaded wherever
the package is installed: it stays inert unless ``--pop3`` is given.

    pytest --pop3 suites/                      # against the embedded server
    pytest --pop3 suites/ --pop3-host mail.example --pop3-account u:p
"""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path
from typing import Any

import pytest

from conformance.campaign import PassiveCollector, run_leased
from conformance.mailbox_access import prepare_target
from conformance.outcomes import Outcome, fails_run
from conformance.probe import ServerProfile
from conformance.results import RunResult, ScenarioResult
from conformance.scenario.loader import ScenarioError, load_scenario
from conformance.scenario.steps import Scenario
from conformance.target import AccountPool, Target


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("pop3-conformance")
    group.addoption("--pop3", action="store_true", help="collect *.pop3 scenario files")
    group.addoption("--pop3-host", help="server host (default: the embedded reference server)")
    group.addoption("--pop3-port", type=int)
    group.addoption("--pop3-account", action="append", default=[], metavar="USER:PASS")
    group.addoption("--pop3-disposable", action="append", default=[], metavar="USER")
    group.addoption("--pop3-provision", default="none")
    group.addoption("--pop3-seed-cmd")
    group.addoption("--pop3-clear-cmd")
    group.addoption("--pop3-profile", type=Path)
    group.addoption("--pop3-timeout", type=float)
    group.addoption("--pop3-strict", action="store_true")


class _Environment:
    """The target, started once for the test session and stopped at its end."""

    def __init__(self, config: pytest.Config) -> None:
        from conformance.cli_common import target_from

        opt = config.getoption
        args = argparse.Namespace(
            profile=opt("pop3_profile"),
            host=opt("pop3_host"),
            port=opt("pop3_port"),
            account=opt("pop3_account"),
            disposable=opt("pop3_disposable"),
            provision=opt("pop3_provision"),
            seed_cmd=opt("pop3_seed_cmd"),
            clear_cmd=opt("pop3_clear_cmd"),
            timeout=opt("pop3_timeout"),
        )
        self.strict: bool = bool(opt("pop3_strict"))
        self._stack = contextlib.ExitStack()
        self.target: Target = self._stack.enter_context(target_from(args))
        self.profile: ServerProfile = prepare_target(self.target)
        self.pool = AccountPool(self.target.accounts)
        self.passive = PassiveCollector()

    def close(self) -> None:
        self._stack.close()


_ENV_KEY = pytest.StashKey[_Environment]()


def _environment(config: pytest.Config) -> _Environment:
    if _ENV_KEY not in config.stash:
        config.stash[_ENV_KEY] = _Environment(config)
    return config.stash[_ENV_KEY]


def pytest_unconfigure(config: pytest.Config) -> None:
    env = config.stash.get(_ENV_KEY, None)
    if env is not None:
        env.close()


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix == ".pop3" and parent.config.getoption("pop3"):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


class ScenarioFile(pytest.File):
    def collect(self) -> list[pytest.Item]:
        try:
            scenario = load_scenario(self.path)
        except ScenarioError as exc:
            raise self.CollectError(str(exc)) from None
        return [ScenarioItem.from_parent(self, name=scenario.id, scenario=scenario)]


class ScenarioFailed(Exception):
    def __init__(self, result: ScenarioResult) -> None:
        super().__init__(result.reason)
        self.result = result


class ScenarioItem(pytest.Item):
    def __init__(self, *, scenario: Scenario, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario
        # Tags select with -k (markers would have to be registered first).
        self.extra_keyword_matches.update(scenario.tags)

    def runtest(self) -> None:
        env = _environment(self.config)
        result = run_leased(self.scenario, env.target, env.profile, env.pool, env.passive)
        if result.outcome is Outcome.UNSUPPORTED:
            pytest.skip(result.reason)
        if fails_run(result.outcome, env.strict):
            raise ScenarioFailed(result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, ScenarioFailed):
            from conformance.report.console import render_console

            run = RunResult("", "", 0.0, {}, [excinfo.value.result])
            return render_console(run, verbose=False)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"{self.scenario.id}: {self.scenario.title}"
