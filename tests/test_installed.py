"""The README's plugin command works on a fresh install, away from any checkout.

A new virtual environment, ``pip install`` of this project (a wheel: no
``suites/`` folder beside it), then the README's command from an empty
folder: the installed suites are found and run against the embedded server.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _readme_plugin_command() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    match = re.search(r"^(python -m pytest --pop3)\s*(?:#.*)?$", text, re.MULTILINE)
    assert match, "the README shows the plugin command 'python -m pytest --pop3'"
    return match.group(1).split()


@pytest.mark.slow
def test_the_readme_plugin_command_works_after_pip_install(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", str(REPO)],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    assert install.returncode == 0, install.stderr[-2000:]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    command = _readme_plugin_command()
    assert command[0] == "python"
    result = subprocess.run(
        [str(python), *command[1:], "-q", "-p", "no:cacheprovider", "-k", "greeting"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert re.search(r"\b[1-9][0-9]* passed", result.stdout)
    # The scenarios ran from the installed package, not from this checkout.
    assert str(REPO) not in result.stdout
