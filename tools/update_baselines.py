"""Run the full suite against lab servers and write their baselines.

    python tools/update_baselines.py [SERVER...]     (default: every lab server)

Each baseline goes to reports/baselines/<server>.json, with the one-line
explanations from reports/baselines/explanations.toml merged into its
failing scenarios.  It then prints each server's counts and every fail that
has no explanation yet: write one (why this behaviour breaks the quoted
requirement) or, if the RFC permits the behaviour, fix the scenario.
"""

from __future__ import annotations

import sys
from pathlib import Path

from conformance.baseline import (
    load_explanations,
    make_baseline,
    stale_explanations,
    write_baseline,
)
from conformance.campaign import default_suite_dirs
from conformance.commands.lab import judge
from conformance.lab import LAB_SERVERS
from conformance.scenario.loader import load_all

BASELINES = Path(__file__).resolve().parent.parent / "reports" / "baselines"


def main(names: list[str]) -> int:
    scenarios, errors = load_all(default_suite_dirs())
    if errors:
        print("\n".join(str(e) for e in errors), file=sys.stderr)
        return 2
    explanations = load_explanations(BASELINES)
    status = 0
    for name in names or list(LAB_SERVERS):
        run = judge(LAB_SERVERS[name], scenarios)
        mine = explanations.get(name, {})
        doc = make_baseline(run, mine)
        write_baseline(doc, BASELINES / f"{name}.json")
        counts = {k: v for k, v in run.counts().items() if v}
        print(f"{name}: {counts} in {run.duration_s:.0f} s")
        for scenario in doc["scenarios"]:
            if scenario["outcome"] == "fail" and not scenario.get("explanation"):
                status = 1
                print(f"  UNEXPLAINED {scenario['id']}: {scenario['reason']}")
        for stale in stale_explanations(run, mine):
            status = 1
            print(f"  STALE explanation for {stale}: it no longer fails")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
