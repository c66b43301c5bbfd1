"""The README's matrix of known servers and docs/matrix.md are generated, never edited by hand."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_matrix_is_generated_from_the_baselines() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "build_matrix.py"), "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_baseline_fail_appears_in_the_readme_with_its_explanation() -> None:
    sys.path.insert(0, str(ROOT))
    from conformance.baseline import read_baseline

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    fails = 0
    for path in sorted((ROOT / "reports" / "baselines").glob("*.json")):
        run, explained = read_baseline(path)
        for scenario in run.scenarios:
            if scenario.outcome.value == "fail":
                fails += 1
                line = f"- **{path.stem}** `{scenario.id}`"
                assert line in readme
                assert explained[scenario.id] in readme
    assert fails > 0  # real servers are not perfect: an empty list means no baselines
