"""The ``exec`` provisioner: the server's own tools, run without a shell."""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from conformance.messages import Message
from conformance.provision.files import write_lf
from conformance.provision.interface import OwnStore, ProvisionError


class ExecProvisioner(OwnStore):
    """Seed and clear with commands (no shell: the templates are split like a shell would).

    The seed command adds one message (``{file}``) after those there, so it
    is also what :meth:`deliver` runs.
    """

    kind = "exec"

    def __init__(self, seed_cmd: str, clear_cmd: str, *, timeout: float = 60.0) -> None:
        for name, template, needed in (
            ("seed", seed_cmd, ("{user}", "{file}")),
            ("clear", clear_cmd, ("{user}",)),
        ):
            missing = [p for p in needed if p not in template]
            if missing:
                raise ValueError(
                    f"the {name} command must contain {' and '.join(missing)}: {template!r}"
                )
            if not shlex.split(template):
                raise ValueError(f"the {name} command is empty")
        self.seed_cmd = seed_cmd
        self.clear_cmd = clear_cmd
        self.timeout = timeout

    def clear(self, user: str) -> None:
        self._run(self.clear_cmd, user=user)

    def seed(self, user: str, messages: Sequence[Message]) -> None:
        self.clear(user)
        self._add(user, messages)

    def deliver(self, user: str, message: Message) -> None:
        self._add(user, [message])

    def _add(self, user: str, messages: Sequence[Message]) -> None:
        with tempfile.TemporaryDirectory(prefix="pop3-conformance-") as d:
            # Readable by others: a seed command may drop privileges (doveadm
            # runs as the mail user) and must still read the file.
            os.chmod(d, 0o755)
            for i, message in enumerate(messages):
                file = Path(d) / f"{i:06d}-{message.name}.eml"
                write_lf(file, message)
                file.chmod(0o644)
                self._run(self.seed_cmd, user=user, file=str(file))

    def _run(self, template: str, **values: str) -> None:
        # Split first, substitute after: a user or file name with spaces stays
        # one argument, and nothing is ever interpreted by a shell.
        argv = []
        for arg in shlex.split(template):
            for key, value in values.items():
                arg = arg.replace("{" + key + "}", value)
            argv.append(arg)
        shown = shlex.join(argv)
        try:
            done = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=self.timeout,
                check=False,
            )
        except FileNotFoundError as e:
            raise ProvisionError(f"{shown}: command not found ({e})") from e
        except subprocess.TimeoutExpired as e:
            raise ProvisionError(f"{shown}: no result within {self.timeout:g} s") from e
        except OSError as e:
            raise ProvisionError(f"{shown}: {e}") from e
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).decode("utf-8", "replace").strip()[-500:]
            raise ProvisionError(
                f"{shown}: exit status {done.returncode}" + (f": {tail}" if tail else "")
            )
