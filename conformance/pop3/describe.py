"""The state machine and the command table as text, made from the spec.

``docs/state-machine.md`` is this module's output (``tools/build_state_machine.py``
writes it, a test fails when it is stale), and the interactive shell's help
shows the same table: nothing here is written by hand.
"""

from __future__ import annotations

from conformance.pop3.arguments import RULE
from conformance.pop3.spec import COMMANDS, LINE_COUNT, MESSAGE_NUMBER, CommandSpec
from conformance.pop3.states import Shape, State
from conformance.pop3.transitions import ON_CLOSE, SASL_RESPONSE, TRANSITIONS

_SHAPES = {
    Shape.SINGLE: "single line",
    Shape.MULTI: "multi-line",
    Shape.MULTI_IF_NO_ARG: "multi-line without an argument, else single",
}
_SHORT = {
    State.AUTHORIZATION: "AUTHORIZATION",
    State.AUTHORIZATION_USER: "AUTHORIZATION_USER",
    State.AUTHORIZATION_SASL: "AUTHORIZATION_SASL",
    State.TRANSACTION: "TRANSACTION",
    State.UPDATE: "UPDATE",
    State.CLOSED: "CLOSED",
}


def mermaid() -> str:
    """A Mermaid state diagram: one edge per (state, outcome, next state), commands grouped."""
    edges: dict[tuple[State, State, str], list[str]] = {}
    for state, row in TRANSITIONS.items():
        for keyword, rule in row.items():
            name = "SASL response" if keyword == SASL_RESPONSE else keyword
            outcomes = [("+OK", rule.on_ok), ("-ERR", rule.on_err)]
            if rule.on_continue is not None:
                outcomes.append(("+ challenge", rule.on_continue))
            if rule.on_ok is rule.on_err:
                outcomes = [("+OK or -ERR", rule.on_ok), *outcomes[2:]]
            for status, target in outcomes:
                edges.setdefault((state, target, status), []).append(name)
    lines = ["stateDiagram-v2", "    [*] --> AUTHORIZATION: +OK greeting"]
    order = list(State)
    for (state, target, status), names in sorted(
        edges.items(), key=lambda e: (order.index(e[0][0]), order.index(e[0][1]), e[0][2])
    ):
        lines.append(f"    {_SHORT[state]} --> {_SHORT[target]}: {' '.join(names)} {status}")
    lines.append(
        f"    UPDATE --> {_SHORT[ON_CLOSE]}: the server removes the marked messages and closes"
    )
    lines.append(f"    {_SHORT[ON_CLOSE]} --> [*]")
    return "\n".join(lines)


def _states(spec: CommandSpec) -> str:
    return ", ".join(s.value for s in State if s in spec.states)


def _arguments(spec: CommandSpec) -> str:
    if not spec.args:
        return "none"
    parts = []
    for i, arg in enumerate(spec.args):
        text = f"{arg.name} ({arg.grammar.name}{', secret' if arg.secret else ''})"
        parts.append(text if i < spec.required else f"[{text}]")
    return " ".join(parts)


def command_table() -> str:
    """One Markdown row per keyword: usage, states, arguments, answer, capability, requirements."""
    rows = [
        "| command | valid in | arguments | positive answer | optional (CAPA tag) "
        "| answer judged by | invalid use breaks |",
        "|---|---|---|---|---|---|---|",
    ]
    for spec in COMMANDS.values():
        optional = "no"
        if spec.optional:
            optional = f"yes ({spec.capability})" if spec.capability else "yes (no tag)"
        invalid = spec.invalid_requirement
        if spec.deleted_requirement:
            invalid += f"; a deleted message: {spec.deleted_requirement}"
        rows.append(
            f"| `{spec.usage()}` | {_states(spec)} | {_arguments(spec)} | {_SHAPES[spec.shape]} "
            f"| {optional} | {', '.join(spec.format_requirements)} | {invalid} |"
        )
    return "\n".join(rows)


def by_state() -> str:
    """For each state, the commands valid there and the requirements their answers are judged by."""
    out = []
    for state in State:
        row = TRANSITIONS[state]
        if not row:
            continue
        out.append(f"- **{state.value}**:")
        for keyword in row:
            if keyword == SASL_RESPONSE:
                out.append("  - any line is the client's SASL response (RFC 5034 section 4)")
                continue
            spec = COMMANDS[keyword]
            out.append(
                f"  - `{spec.usage()}`: {spec.summary} ({', '.join(spec.format_requirements)})"
            )
    return "\n".join(out)


def _arity(spec: CommandSpec) -> str:
    most = spec.max_args
    if most is None:
        return f"{spec.required}, the last to the end of the line"
    return str(most) if most == spec.required else f"{spec.required} to {most}"


def argument_rule() -> str:
    """The one grading rule for arguments, and what each command's grammar is."""
    rows = [
        "| problem | for example | -ERR | +OK | graded against | why |",
        "|---|---|---|---|---|---|",
    ]
    for t in RULE:
        rows.append(
            f"| {t.kind} | {t.examples} | {t.refused} | {t.accepted} | {t.requirement} | {t.why} |"
        )
    rows += [
        "",
        "| command | arguments | numbers (`1*DIGIT`) | missing or bad | one too many | tried by |",
        "|---|---|---|---|---|---|",
    ]
    for keyword, spec in COMMANDS.items():
        numbers = [a.name for a in spec.args if a.grammar in (MESSAGE_NUMBER, LINE_COUNT)]
        extra = (
            "n/a (spaces belong to the argument)"
            if spec.max_args is None
            else (spec.extra_requirement)
        )
        name = keyword.lower()
        rows.append(
            f"| `{spec.usage()}` | {_arity(spec)} | {', '.join(numbers) or 'none'} "
            f"| {spec.invalid_requirement} | {extra} "
            f"| [core.arguments.{name}](../suites/core/arguments/{name}.pop3) |"
        )
    return "\n".join(rows)


def document() -> str:
    """The whole of ``docs/state-machine.md``."""
    return "\n".join(
        [
            "# The POP3 state machine",
            "",
            "<!-- generated by tools/build_state_machine.py from conformance/pop3/spec.py; "
            "do not edit -->",
            "",
            "The harness keeps one table of POP3 commands (`conformance/pop3/spec.py`) and "
            "makes the state machine from it (`conformance/pop3/transitions.py`). The reader "
            "picks each answer's shape from it, the mailbox model keys its oracles by it, the "
            "explorer draws its commands from it, and this page is generated from it.",
            "",
            "A command with no row in a state is a wrong-state or unknown command there: "
            "RFC 1939 section 3 requires `-ERR`, a single line.",
            "",
            "## States",
            "",
            "```mermaid",
            mermaid(),
            "```",
            "",
            "## Commands",
            "",
            command_table(),
            "",
            "## By state",
            "",
            by_state(),
            "",
            "## Arguments: one grammar, one grading rule",
            "",
            "The spec above is the grammar of every command: how many arguments it takes, "
            "and that a message-number or a line count is `1*DIGIT`.  One rule grades what "
            "a server answers to a line that breaks it, for every command in every state "
            "(`conformance/pop3/arguments.py`; the mailbox model applies it before any "
            "command's own oracle).  What the grammar forbids is a syntactically invalid "
            "command, which RFC 1939 section 3 says a server MUST refuse: `+OK` is a `fail` "
            "against the command's own requirement for invalid use.  A lesser grade only "
            "where the catalog quotes a sentence for it: spacing other than one SP "
            "(RFC1939-3-5) and leading zeros (RFC1939-4-8) are recorded as `info`; a "
            "tolerated `+OK` must still carry the answer the command gets when written "
            "correctly, or the content's own requirement fails.  In a state where a command "
            "is not valid, every form of it gets `-ERR` (RFC1939-3-13).  "
            "`tools/build_argument_suites.py` writes a scenario per command from the spec "
            "that tries each problem in each state; the explorer draws the same number "
            "variants.",
            "",
            argument_rule(),
            "",
        ]
    )
