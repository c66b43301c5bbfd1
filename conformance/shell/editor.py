"""Where the shell's lines come from: a terminal with line editing, or a script.

On a terminal, :class:`TerminalInput` is a prompt_toolkit prompt: Emacs
line editing, history (Up, Down, Ctrl-R), Tab completion of the POP3
keywords valid in the session's state and of the meta-commands, and the
secret part of a line (PASS, APOP, AUTH, a SASL response) shown as ``*`` as
it is typed.  A line that holds a secret never enters the history.

When stdin is not a terminal, :class:`ScriptInput` reads it line by line:
the non-interactive mode, for scripts and tests.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TextIO

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.history import FileHistory, History
from prompt_toolkit.layout.processors import Processor, Transformation, TransformationInput
from prompt_toolkit.layout.utils import explode_text_fragments

from conformance.pop3 import COMMANDS, SASL_RESPONSE, TRANSITIONS, State
from conformance.shell.credentials import mask_from
from conformance.shell.meta import META, PREFIX

StateOf = Callable[[], State | None]


class ScriptInput:
    """Lines from a stream that is not a terminal (the non-interactive mode)."""

    interactive = False

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stdin

    def read(self, prompt: str) -> str | None:
        line = self.stream.readline()
        if not line:
            return None
        return line.removesuffix("\n").removesuffix("\r")


class SecretMask(Processor):
    """Shows the secret part of the line being typed as asterisks."""

    def __init__(self, state: StateOf) -> None:
        self.state = state

    def apply_transformation(self, ti: TransformationInput) -> Transformation:
        start = mask_from(ti.document.text, self.state() is State.AUTHORIZATION_SASL)
        if start is None:
            return Transformation(ti.fragments)
        fragments = explode_text_fragments(ti.fragments)
        shown = [
            (fragment[0], "*" if i >= start else fragment[1], *fragment[2:])
            for i, fragment in enumerate(fragments)
        ]
        return Transformation(shown)


class SecretFreeHistory(History):
    """History in memory (and in a file when one is given), without any line holding a secret."""

    def __init__(self, state: StateOf, path: Path | None = None) -> None:
        super().__init__()
        self.state = state
        self.file = FileHistory(str(path)) if path is not None else None

    def load_history_strings(self) -> Iterable[str]:
        return self.file.load_history_strings() if self.file is not None else []

    def store_string(self, string: str) -> None:
        if self.file is not None:
            self.file.store_string(string)

    def append_string(self, string: str) -> None:
        if mask_from(string, self.state() is State.AUTHORIZATION_SASL) is None:
            super().append_string(string)


class ShellCompleter(Completer):
    """Keywords valid in the current state first, then the others; meta-commands after ':'."""

    def __init__(self, state: StateOf, names: Callable[[], list[str]]) -> None:
        self.state = state
        self.names = names

    def get_completions(
        self, document: Document, complete_event: CompleteEvent
    ) -> Iterator[Completion]:
        text = document.text_before_cursor
        if text.startswith(PREFIX):
            yield from self._meta(text)
            return
        state = self.state()
        if " " in text or state is State.AUTHORIZATION_SASL:
            return
        valid = [k for k in TRANSITIONS[state] if k != SASL_RESPONSE] if state else []
        for keyword in [*valid, *(k for k in COMMANDS if k not in valid)]:
            if keyword.startswith(text.upper()):
                where = "" if keyword in valid or state is None else f" (not in {state.value})"
                yield Completion(
                    keyword, -len(text), display_meta=COMMANDS[keyword].summary + where
                )

    def _meta(self, text: str) -> Iterator[Completion]:
        name, sep, rest = text[len(PREFIX) :].partition(" ")
        if not sep:
            for meta in META.values():
                if meta.name.startswith(name):
                    yield Completion(PREFIX + meta.name, -len(text), display_meta=meta.summary)
            return
        found = META.get(name)
        if " " in rest or found is None:
            return
        choices = self.names() if found.takes_session else list(COMMANDS) if name == "help" else []
        for choice in choices:
            if choice.startswith(rest.upper() if name == "help" else rest):
                yield Completion(choice, -len(rest))


class TerminalInput:
    """Lines typed on a terminal, with editing, history, completion and masking."""

    interactive = True

    def __init__(
        self, state: StateOf, names: Callable[[], list[str]], history: Path | None = None
    ) -> None:
        self.session: PromptSession[str] = PromptSession(
            history=SecretFreeHistory(state, history),
            completer=ShellCompleter(state, names),
            complete_while_typing=False,
            input_processors=[SecretMask(state)],
        )

    def read(self, prompt: str) -> str | None:
        try:
            return self.session.prompt(prompt)
        except KeyboardInterrupt:  # Ctrl-C drops the line, as in a shell
            return ""
        except EOFError:  # Ctrl-D leaves
            return None
