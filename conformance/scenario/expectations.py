"""The expectations of an ``S:`` line: what a server's answer may be.

:class:`ExpectationGrammar` parses one alternative: a status form (``+OK`` or
``-ERR``, with an optional ``[RESP-CODE]`` and the words the text must hold),
a ``/regex/``, or a bare form (``model``, ``closed``, ``timeout``, ``any``),
followed by optional ``=>`` modifiers: a grade, ``as LABEL``,
``if [not] capa NAME`` and a ``"quoted note"``.  Grouping consecutive
``S:`` lines into one expectation is the business of the step grammar.
"""

from __future__ import annotations

import re
from typing import Final

from conformance.scenario.grammar_base import GrammarBase
from conformance.scenario.steps import Alternative, Condition

__all__ = ["ExpectationGrammar"]

GRADES: Final = ("pass", "fail", "non-strict", "info")
# The words after "S:" that are forms of their own (besides status and /regex/).
BARE_FORMS: Final = ("model", "closed", "timeout", "any")
# RFC 2449 section 3: resp-code = "[" resp-level *("/" resp-level) "]".
RESP_LEVEL: Final = r"[\x21-\x2E\x30-\x5C\x5E-\x7F]+"
RESP_CODE_RE: Final = re.compile(rf"{RESP_LEVEL}(?:/{RESP_LEVEL})*")


class ExpectationGrammar(GrammarBase):
    """Parses the alternative of one ``S:`` line; a label it sets is remembered for ``when``."""

    def parse_expectation(self, raw_text: str, number: int) -> Alternative:
        """The alternative of one ``S:`` line; ``raw_text`` is what follows the ``S:``."""
        if raw_text and not raw_text.startswith((" ", "\t")):
            raise self.error(number, "expected a space after 'S:'")
        text = raw_text.strip()
        where = self.where(number)
        if not text:
            raise self.error(number, "'S:' needs an expectation (+OK, -ERR, /regex/, model, ...)")

        if text.startswith("/"):
            end = _regex_end(text)
            if end is None:
                raise self.error(number, "a /regex/ needs its closing '/'")
            pattern = text[1:end]
            if not pattern:
                raise self.error(number, "empty /regex/")
            try:
                re.compile(pattern)
            except re.error as error:
                raise self.error(number, f"bad regex /{pattern}/: {error}") from None
            base = Alternative("regex", where, pattern=pattern)
            tail = text[end + 1 :].strip()
            return self.modifiers(base, tail, number)

        head, arrow, after = text.partition("=>")
        tail = arrow + after
        words = head.split()
        form = words[0]
        if form in ("+OK", "-ERR"):
            rest = words[1:]
            code: str | None = None
            if rest and rest[0].startswith("["):
                code = self.response_code(rest[0], number)
                rest = rest[1:]
            for word in rest:
                if word in ("as", "if") or word.startswith('"'):
                    # Almost surely a modifier without its arrow; status words
                    # this odd are better matched with a /regex/.
                    raise self.error(
                        number, f"{word!r} after '{form}': modifiers follow '=>' (e.g. '=> as x')"
                    )
                self.check_placeholders(word, number)
            base = Alternative("status", where, status=form, code=code, words=tuple(rest))
            return self.modifiers(base, tail.strip(), number)
        if form in BARE_FORMS:
            if len(words) > 1:
                raise self.error(
                    number, f"unexpected {words[1]!r} after '{form}' (modifiers follow '=>')"
                )
            return self.modifiers(Alternative(form, where), tail.strip(), number)
        raise self.error(
            number,
            f"unknown expectation {form!r}: expected +OK, -ERR, /regex/, model, closed,"
            " timeout or any",
        )

    def response_code(self, token: str, number: int) -> str:
        """The code inside ``[...]`` (RFC 2449 syntax), without the brackets."""
        inner = token[1:-1] if len(token) > 2 and token.endswith("]") else ""
        if not RESP_CODE_RE.fullmatch(inner):
            raise self.error(
                number, f"bad response code {token!r}: expected [CODE] or [CODE/SUBCODE]"
            )
        return inner

    def modifiers(self, base: Alternative, tail: str, number: int) -> Alternative:
        """Apply ``=> [GRADE] [as LABEL] [if [not] capa NAME] ["note"]`` (any order)."""
        if not tail:
            return base
        if not tail.startswith("=>"):
            raise self.error(number, f"unexpected {tail!r} (modifiers follow '=>')")
        tokens = self.note_tokens(tail[2:], number)
        if not tokens:
            raise self.error(number, "'=>' needs a grade, 'as LABEL', 'if capa NAME' or a note")
        grade: str | None = None
        label: str | None = None
        condition: Condition | None = None
        note: str | None = None
        i = 0
        while i < len(tokens):
            token, quoted = tokens[i]
            if quoted:
                if note is not None:
                    raise self.error(number, "two notes on one 'S:' line")
                note = token
                i += 1
            elif token in GRADES:
                if grade is not None:
                    raise self.error(number, f"two grades on one 'S:' line: {grade}, {token}")
                grade = token
                i += 1
            elif token == "as":
                if label is not None or i + 1 >= len(tokens) or tokens[i + 1][1]:
                    raise self.error(number, "expected one 'as LABEL'")
                label = self.plain_name(tokens[i + 1][0], number, "label")
                i += 2
            elif token == "if":
                if condition is not None:
                    raise self.error(number, "two conditions on one 'S:' line")
                j = i + 1
                negate = j < len(tokens) and tokens[j] == ("not", False)
                if negate:
                    j += 1
                # Bare words only: a quoted note is never part of a condition.
                if j + 1 >= len(tokens) or tokens[j] != ("capa", False) or tokens[j + 1][1]:
                    raise self.error(number, "expected 'if capa NAME' or 'if not capa NAME'")
                condition = Condition("capa", self.capa_name(tokens[j + 1][0], number), negate)
                i = j + 2
            elif grade is None:
                raise self.error(
                    number, f"bad grade {token!r}: expected one of {', '.join(GRADES)}"
                )
            else:
                raise self.error(
                    number, f"unexpected {token!r} after '=>' (already graded {grade})"
                )
        if label is not None:
            self.labels.add(label)
        return Alternative(
            base.form,
            base.where,
            status=base.status,
            code=base.code,
            words=base.words,
            pattern=base.pattern,
            grade=grade or "pass",
            label=label,
            condition=condition,
            note=note or "",
        )

    def note_tokens(self, text: str, number: int) -> list[tuple[str, bool]]:
        """Whitespace-separated words, with ``"quoted notes"`` (``\\"`` and ``\\\\`` inside)."""
        tokens: list[tuple[str, bool]] = []
        pos = 0
        while True:
            token = _TOKEN.match(text, pos)
            assert token is not None  # it matches the empty string
            note, closed, word = token.groups()
            if word is not None:
                if '"' in word:
                    raise self.error(
                        number, f"stray '\"' in {word!r}: a note is a whole quoted word"
                    )
                tokens.append((word, False))
            elif note is not None:
                if closed is None:
                    raise self.error(number, "unterminated note: a '\"' is missing")
                tokens.append((_ESCAPED.sub(r"\1", note), True))
            else:
                return tokens  # nothing but spaces left
            pos = token.end()


# Spaces, then a note: a '"', then escaped '"' or '\\', a lone '\\' or any other
# character, then the closing '"' (missing: unterminated); or a word up to the
# next space; or nothing (the end).  \s is str.isspace's set.
_TOKEN: Final = re.compile(r'\s*(?:"((?:\\["\\]|\\(?!["\\])|[^"\\])*)(")?|(\S+))?')
_ESCAPED: Final = re.compile(r'\\(["\\])')


def _regex_end(text: str) -> int | None:
    """Index of the '/' that closes a regex starting at text[0].

    The rightmost '/' that is followed only by blanks or by '=>' closes it,
    so a regex may contain '/' and a note after '=>' may contain '/' too.
    """
    for i in range(len(text) - 1, 0, -1):
        if text[i] == "/":
            after = text[i + 1 :].strip()
            if not after or after.startswith("=>"):
                return i
    return None
