"""Meta-commands: lines that start with ``:`` talk to the shell, not to the server.

The table here is the one place they are named: the dispatcher, the help
and the completion all read it.  The views they print (``:help``,
``:state``) are built here too, from the protocol spec and the model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from conformance.catalog import requirement
from conformance.model import SessionModel
from conformance.pop3 import COMMANDS, State, spec_for
from conformance.pop3.describe import by_state, command_table

PREFIX: Final = ":"
# Session names, as a scenario's 'open NAME' takes them.
SESSION_NAME: Final = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Meta:
    name: str
    usage: str
    summary: str
    takes_session: bool = False  # its argument is a session name (for completion)


META: Final[dict[str, Meta]] = {
    m.name: m
    for m in (
        Meta("open", ":open [NAME]", "open a session (A, B, ...) and make it the current one"),
        Meta("use", ":use NAME", "make session NAME the current one", True),
        Meta("close", ":close [NAME]", "end the session with a FIN, without QUIT", True),
        Meta("reset", ":reset [NAME]", "end the session with an RST (SO_LINGER 0)", True),
        Meta(
            "half-close",
            ":half-close [NAME]",
            "shut down the write side and wait for the server to close",
            True,
        ),
        Meta("state", ":state [NAME]", "the session's state and the model's view", True),
        Meta("raw", ":raw TEXT", r"send bytes as they are, escapes \r \n \t \0 \xNN \\"),
        Meta("help", ":help [KEYWORD|table]", "this help; a POP3 keyword; the full table"),
        Meta("quit", ":quit", "leave (open sessions get a FIN: nothing is committed)"),
    )
}
PLACEHOLDER_HELP: Final = (
    "{user} {password} (account 1), {user2} {password2} (account 2), {apop} {plain} "
    "{b64user} {b64password} {cram}, and with a known mailbox {count} {size} {last} "
    "{beyond} {size:N} {uid:N}"
)


def parse(line: str) -> tuple[Meta | None, str, list[str]]:
    """The meta-command of a ``:`` line (None if unknown), its name and its arguments."""
    name, _, rest = line[len(PREFIX) :].partition(" ")
    return META.get(name), name, rest.split()


def _plain(markdown: str) -> list[str]:
    return markdown.replace("`", "").replace("**", "").splitlines()


def help_lines(topic: str | None, state: State | None) -> list[str]:
    """``:help``: the meta-commands, then the spec's commands valid in each state."""
    if topic == "table":
        return _plain(command_table())
    if topic is not None:
        return keyword_help(topic)
    out = ["Meta-commands (anything else is sent as a POP3 command):"]
    out += [f"  {m.usage:<22} {m.summary}" for m in META.values()]
    out += ["", f"Placeholders in a command: {PLACEHOLDER_HELP}", ""]
    here = f" (this session: {state.value})" if state is not None else ""
    out.append(f"POP3 commands by state{here}, with the requirements their answers meet:")
    out += _plain(by_state())
    out += ["", "':help KEYWORD' for one command, ':help table' for the whole table."]
    return out


def keyword_help(keyword: str) -> list[str]:
    spec = spec_for(keyword)
    if spec is None:
        return [f"no POP3 command {keyword!r} (known: {', '.join(COMMANDS)})"]
    out = [
        f"{spec.usage()}: {spec.summary} ({spec.defined_in})",
        "valid in: " + ", ".join(s.value for s in State if s in spec.states),
    ]
    if spec.capability:
        out.append(f"announced by the CAPA tag {spec.capability}")
    reqs = [*spec.format_requirements, spec.invalid_requirement]
    if spec.deleted_requirement:
        reqs.append(spec.deleted_requirement)
    for req_id in dict.fromkeys(reqs):
        found = requirement(req_id)
        out.append(f"  {req_id} ({found.grade.value}): {' '.join(found.text.split())}")
    return out


def model_lines(model: SessionModel | None) -> list[str]:
    """``:state``: the messages as the model says this session sees them."""
    if model is None:
        return ["the model does not know this session's mailbox"]
    if model.state is not State.TRANSACTION:
        sizes = [m.size for m in model.maildrop.messages]
        return [
            f"the mailbox holds {len(sizes)} messages, {sum(sizes)} octets "
            "(numbered at login: nothing is marked before it)"
        ]
    out = [
        f"{model.count} of {model.last} messages not marked as deleted, {model.size} octets",
    ]
    for n in range(1, model.last + 1):
        uid = model.uid(n)
        mark = "  marked as deleted" if model.is_deleted(n) else ""
        shown = f"  unique-id {uid}" if uid else ""
        out.append(f"  {n:>3}  {model.message(n).size:>8} octets{shown}{mark}")
    return out
