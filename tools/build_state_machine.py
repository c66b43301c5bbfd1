"""Write docs/state-machine.md from the command spec (tests/test_state_machine_doc.py checks it).

python tools/build_state_machine.py
"""

from __future__ import annotations

from pathlib import Path

from conformance.pop3.describe import document

DOC = Path(__file__).resolve().parents[1] / "docs" / "state-machine.md"


def main() -> None:
    DOC.write_text(document(), encoding="utf-8")
    print(f"wrote {DOC}")


if __name__ == "__main__":
    main()
