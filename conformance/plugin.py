"""The pytest plugin: scenario files as pytest items (Tavern's split).

Hooks add the options and collect ``*.pop3`` files; a file yields one item;
the item runs its scenario and renders its own failure.  The plugin is
registered through the ``pytest11`` entry point, so it is loaded wherever
the package is installed: it stays inert unless ``--pop3`` is given.

    pytest --pop3                              # the installed suites, the embedded server
    pytest --pop3 --pop3-host mail.example --pop3-account u:p
    pytest --pop3 my-suites/ -m "not locking"  # other scenario files; tags are markers

Without a path, ``--pop3`` runs the suites shipped with the package (not a
checkout's ``suites/``).  Scenario tags are pytest markers, so ``-m`` selects
them; scenarios tagged ``slow`` (the 10-minute timers) are left out unless
``--pop3-slow`` is given, as ``run`` does without ``--slow``.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest

from conformance import __version__
from conformance.campaign import SLOW_TAG, PassiveCollector, default_suite_dirs, run_leased
from conformance.mailbox_access import prepare_provisioner
from conformance.outcomes import Outcome, fails_run
from conformance.preflight import check_accounts
from conformance.probe import ServerProfile, probe_target
from conformance.results import RunResult, ScenarioResult
from conformance.scenario.loader import ScenarioError, load_all, load_scenario
from conformance.scenario.steps import Scenario
from conformance.secrets import for_accounts
from conformance.target import AccountPool, Target, secrets_of
from conformance.target_flags import add_plugin_options, namespace_from_plugin


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("pop3-conformance")
    group.addoption("--pop3", action="store_true", help="collect *.pop3 scenario files")
    # Every target option of 'run', with a pop3- prefix: one definition for both.
    add_plugin_options(group)
    group.addoption("--pop3-strict", action="store_true", help="non-strict results fail")
    group.addoption(
        "--pop3-slow",
        action="store_true",
        help="also run scenarios tagged slow (the 10-minute autologout timer)",
    )
    group.addoption(
        "--pop3-no-preflight",
        action="store_true",
        help="skip logging in once with every account before the first scenario",
    )


def pytest_configure(config: pytest.Config) -> None:
    if not config.getoption("pop3", default=False):
        return
    # No path given: the suites installed with the package, wherever pytest runs.
    if not config.option.file_or_dir:
        config.args[:] = [str(d) for d in default_suite_dirs()]
    for tag in sorted(_installed_tags()):
        config.addinivalue_line("markers", f"{tag}: pop3-conformance scenarios tagged {tag}")


def _installed_tags() -> set[str]:
    scenarios, _ = load_all(default_suite_dirs())
    return {tag for s in scenarios for tag in s.tags}


def pytest_report_header(config: pytest.Config) -> str | None:
    if not config.getoption("pop3", default=False):
        return None
    host = config.getoption("pop3_host")
    where = f"{host}:{config.getoption('pop3_port') or 110}" if host else "the embedded server"
    return f"pop3-conformance {__version__}: judging {where}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("pop3", default=False) and not config.getoption("pop3_slow"):
        slow = [i for i in items if isinstance(i, ScenarioItem) and SLOW_TAG in i.scenario.tags]
        if slow:
            config.hook.pytest_deselected(items=slow)
            items[:] = [i for i in items if i not in slow]


class _Environment:
    """The target, started once for the test session and stopped at its end."""

    def __init__(self, config: pytest.Config) -> None:
        from conformance.cli_common import target_from

        opt = config.getoption
        args = namespace_from_plugin(opt)
        self.strict: bool = bool(opt("pop3_strict"))
        self._stack = contextlib.ExitStack()
        self.target: Target = self._stack.enter_context(target_from(args))
        self.profile: ServerProfile = probe_target(self.target)
        if not opt("pop3_no_preflight"):
            secrets = for_accounts(self.target.accounts, secrets_of(self.target))
            check_accounts(self.target, self.profile, secrets)
        prepare_provisioner(self.target, self.profile)
        self.pool = AccountPool(self.target.accounts)
        self.passive = PassiveCollector(for_accounts(self.target.accounts, secrets_of(self.target)))

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
        # Tags are markers (registered at configure time) and keywords: -m and -k.
        for tag in scenario.tags:
            self.add_marker(getattr(pytest.mark, tag))
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

            env = _environment(self.config)
            target = {**env.target.describe(), **env.profile.describe()}
            run = RunResult(__version__, "", 0.0, target, [excinfo.value.result])
            return render_console(run, verbose=False)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"{self.scenario.id}: {self.scenario.title}"
