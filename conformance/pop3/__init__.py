"""A sans-IO POP3 core: bytes in, events out, the state machine as a table.

No sockets, no scenarios, no grading (the h11 shape).  The pieces, in the
order data flows through them:

- :mod:`~conformance.pop3.spec`: every command keyword, described once;
- :mod:`~conformance.pop3.arguments`: its argument grammar, and the one grading rule;
- :mod:`~conformance.pop3.transitions`: the state machine made from it;
- :mod:`~conformance.pop3.wire`: commands encoded, bodies stuffed;
- :mod:`~conformance.pop3.reader`: bytes cut into responses, bounded;
- :mod:`~conformance.pop3.grammar`: the response grammars, parsed once each;
- :mod:`~conformance.pop3.capabilities`: each CAPA line against its registration;
- :mod:`~conformance.pop3.connection`: the client connection that owns the state;
- :mod:`~conformance.pop3.errors`: who broke the protocol.
"""

from conformance.pop3.arguments import (
    NUMBER_VARIANTS,
    RULE,
    ArgumentProblem,
    check_arguments,
    check_line,
)
from conformance.pop3.capabilities import CAPA_FINDINGS, REGISTRY, capability_findings
from conformance.pop3.connection import GREETING, Answer, ClientConnection, Command, Death
from conformance.pop3.errors import LocalProtocolError, ProtocolError, RemoteProtocolError
from conformance.pop3.events import CRLF, FINDING_REQUIREMENTS, Finding, Response, finding
from conformance.pop3.grammar import (
    MAX_COMMAND_LINE,
    MAX_STATUS_LINE,
    Capability,
    UidLine,
    apop_timestamp,
    capability_names,
    parse_capa_lines,
    parse_scan_line,
    parse_stat,
    parse_status_line,
    parse_uid_line,
    sasl_challenge,
)
from conformance.pop3.reader import DEFAULT_LIMITS, NEED_DATA, Limits, NeedData, ResponseReader
from conformance.pop3.spec import (
    COMMANDS,
    KNOWN_KEYWORDS,
    OPTIONAL_KEYWORDS,
    SECRET_KEYWORDS,
    CommandSpec,
    secret_offset,
    spec_for,
)
from conformance.pop3.states import IN_AUTHORIZATION, Shape, State
from conformance.pop3.transitions import (
    ON_CLOSE,
    SASL_RESPONSE,
    TRANSITIONS,
    Rule,
    command_keyword,
    next_state,
    resolve_shape,
    response_shape,
    rule_for,
    split_command,
)
from conformance.pop3.wire import encode_command, stuff, unstuff

__all__ = [
    "CAPA_FINDINGS",
    "COMMANDS",
    "CRLF",
    "DEFAULT_LIMITS",
    "FINDING_REQUIREMENTS",
    "GREETING",
    "IN_AUTHORIZATION",
    "KNOWN_KEYWORDS",
    "MAX_COMMAND_LINE",
    "MAX_STATUS_LINE",
    "NEED_DATA",
    "NUMBER_VARIANTS",
    "ON_CLOSE",
    "OPTIONAL_KEYWORDS",
    "REGISTRY",
    "RULE",
    "SASL_RESPONSE",
    "SECRET_KEYWORDS",
    "TRANSITIONS",
    "Answer",
    "ArgumentProblem",
    "Capability",
    "ClientConnection",
    "Command",
    "CommandSpec",
    "Death",
    "Finding",
    "Limits",
    "LocalProtocolError",
    "NeedData",
    "ProtocolError",
    "RemoteProtocolError",
    "Response",
    "ResponseReader",
    "Rule",
    "Shape",
    "State",
    "UidLine",
    "apop_timestamp",
    "capability_findings",
    "capability_names",
    "check_arguments",
    "check_line",
    "command_keyword",
    "encode_command",
    "finding",
    "next_state",
    "parse_capa_lines",
    "parse_scan_line",
    "parse_stat",
    "parse_status_line",
    "parse_uid_line",
    "resolve_shape",
    "response_shape",
    "rule_for",
    "sasl_challenge",
    "secret_offset",
    "spec_for",
    "split_command",
    "stuff",
    "unstuff",
]
