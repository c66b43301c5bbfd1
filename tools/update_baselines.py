"""Run the full suite against lab servers and write their baselines.

    python tools/update_baselines.py [SERVER...]     (default: every lab server)
    python tools/update_baselines.py --merge          (only re-merge explanations.toml)

The runs include the slow scenarios (the 10-minute timers), as
``run --slow`` does.  Each baseline goes to reports/baselines/<server>.json, with the one-line
explanations from reports/baselines/explanations.toml merged into its
failing scenarios.  It then prints each server's counts and every fail that
has no explanation yet: write one (why this behaviour breaks the quoted
requirement) or, if the RFC permits the behaviour, fix the scenario.
"""

from __future__ import annotations

import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from conformance.baseline import (
    load_explanations,
    make_baseline,
    stale_explanations,
    write_baseline,
)
from conformance.campaign import default_suite_dirs, select
from conformance.commands.lab import judge
from conformance.lab import LAB_SERVERS
from conformance.scenario.loader import load_all

BASELINES = Path(__file__).resolve().parent.parent / "reports" / "baselines"


def merge() -> int:
    """Write explanations.toml into the existing baselines, without running anything."""
    explanations = load_explanations(BASELINES)
    for path in sorted(BASELINES.glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        mine = explanations.get(path.stem, {})
        for scenario in doc["scenarios"]:
            if scenario["outcome"] == "fail":
                scenario["explanation"] = mine.get(scenario["id"], "")
        for finding in doc["passive"]:
            if finding["outcome"] == "fail":
                finding["explanation"] = mine.get(f"passive:{finding['code']}", "")
        write_baseline(doc, path)
    return 0


def main(names: list[str]) -> int:
    if names == ["--merge"]:
        return merge()
    loaded, errors = load_all(default_suite_dirs())
    # As 'run --slow': the baselines hold the timers too (one window of about
    # 11 minutes per server, the slow scenarios running at once); CI's fast
    # runs are compared without them (report/diff.py).
    scenarios = select(loaded, [], slow=True)
    if errors:
        print("\n".join(str(e) for e in errors), file=sys.stderr)
        return 2
    explanations = load_explanations(BASELINES)
    status = 0
    chosen = names or list(LAB_SERVERS)
    # Three at once, as the baseline test runs them: most of a run is waiting.
    with ThreadPoolExecutor(max_workers=3) as pool:
        runs = dict(
            zip(chosen, pool.map(lambda n: judge(LAB_SERVERS[n], scenarios), chosen), strict=True)
        )
    for name in chosen:
        run = runs[name]
        mine = explanations.get(name, {})
        doc = make_baseline(run, mine)
        write_baseline(doc, BASELINES / f"{name}.json")
        counts = {k: v for k, v in run.counts().items() if v}
        print(f"{name}: {counts} in {run.duration_s:.0f} s")
        for scenario in doc["scenarios"]:
            if scenario["outcome"] == "fail" and not scenario.get("explanation"):
                status = 1
                print(f"  UNEXPLAINED {scenario['id']}: {scenario['reason']}")
        for finding in doc["passive"]:
            if finding["outcome"] == "fail" and not finding.get("explanation"):
                status = 1
                print(f"  UNEXPLAINED passive:{finding['code']}: {finding['detail']}")
        for stale in stale_explanations(run, mine):
            status = 1
            print(f"  STALE explanation for {stale}: it no longer fails")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
