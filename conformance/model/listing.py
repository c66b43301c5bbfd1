"""STAT, LIST and UIDL: counts, sizes and unique-ids (RFC 1939 sections 5 and 7)."""

from __future__ import annotations

from conformance.model.expectation import (
    ERR,
    OK,
    Discrepancy,
    Expectation,
    Problems,
    numbers,
)
from conformance.model.oracle import Asked, Oracle
from conformance.model.view import SessionView
from conformance.pop3 import COMMANDS, Response, State, parse_scan_line, parse_stat
from conformance.pop3.grammar import UidLine, parse_uid_line

UIDL_EXPECTED = {
    "RFC1939-4-7": "message-numbers 1..N ascending, one line per message not marked as deleted",
    "RFC1939-7.UIDL-1": "'+OK n unique-id', the same unique-id as in the listing",
    "RFC1939-7.UIDL-2": "each line: message-number SP unique-id, nothing after it",
    "RFC1939-7.UIDL-3": "unique-ids of 1 to 70 characters in 0x21-0x7E",
    "RFC1939-7.UIDL-4": "a unique-id names one message (or identical copies)",
    "RFC1939-7.UIDL-5": "a message keeps its unique-id across sessions",
    "RFC1939-7.UIDL-7": "messages marked as deleted are not listed",
}
LIST_EXPECTED = {
    "RFC1939-5.LIST-2": "one line per message not marked as deleted, ascending",
    "RFC1939-5.LIST-4": "each line: message-number SP size",
    "RFC1939-5.LIST-5": "the exact size of each message in octets (CRLF line ends)",
    "RFC1939-5.LIST-6": "messages marked as deleted are not listed",
    "RFC1939-5.STAT-3": "the sizes add up to the total STAT gave in this session",
}


def check_numbering(
    view: SessionView, listed_numbers: list[int], requirement: str, problems: Problems
) -> None:
    """A listing names each message not marked as deleted once, in ascending order."""
    live = view.live()
    if listed_numbers == live:
        return
    listed = [n for n in listed_numbers if n not in view.deleted]
    missing = sorted(set(live) - set(listed))
    unknown = sorted({n for n in listed if not 1 <= n <= view.last})
    if missing:
        problems.add(requirement, f"missing: {numbers(missing)}")
    if unknown:
        problems.add(requirement, f"no such message: {numbers(unknown)}")
    if len(set(listed)) != len(listed):
        problems.add(requirement, "a message is listed twice")
    elif listed != sorted(listed):
        problems.add(requirement, "not in ascending order")


class Stat(Oracle):
    keywords = ("STAT",)

    def expect(self, asked: Asked, state: State) -> Expectation:
        view = asked.view
        marked = bool(view.deleted)
        return Expectation(
            OK,
            "RFC1939-5.STAT-2" if marked else "RFC1939-5.STAT-3",
            f"{view.count} messages, {view.size} octets"
            + (" (messages marked as deleted are not counted)" if marked else ""),
            values=(view.count, view.size),
        )

    def check(self, asked: Asked, exp: Expectation, response: Response) -> list[Discrepancy]:
        view = asked.view
        got = parse_stat(response.text)
        if got is None:
            return [
                Discrepancy(
                    "RFC1939-5.STAT-1",
                    "+OK, a space, the message count, a space and the size in octets",
                    response.describe(),
                )
            ]
        if exp.values is not None and (got[0] != view.count or got[1] not in view.totals()):
            return [Discrepancy(exp.requirement, exp.describe(), response.describe())]
        return []

    def apply(self, asked: Asked, response: Response) -> None:
        """A right total shows the session every message's size (none may change now)."""
        view, args = asked.view, asked.args
        got = parse_stat(response.text)
        if not args and got is not None and got[0] == view.count and got[1] in view.totals():
            view.seen.saw_totals(frozenset(view.live()), got[1], "STAT")


def size_problem(view: SessionView, n: int, size: int) -> str:
    """What is wrong with ``size`` as message ``n``'s size ("" if nothing)."""
    expected = view.octets(n)
    if size in view.sizes(n):
        return ""
    seen = view.seen.size(n)
    if seen is not None:
        return f"message {n}: {size} octets, but {seen[0]} in this session's {seen[1]}"
    return f"message {n}: {size} octets, not {expected}"


def _add_up(view: SessionView, response: Response, problems: Problems) -> None:
    """A whole listing after STAT, with the same messages marked: its sizes make STAT's total."""
    if view.seen.total is None:
        return
    live, total = view.seen.total
    scans = [s for s in map(parse_scan_line, response.lines) if s is not None]
    if {n for n, _ in scans} != live or live != set(view.live()):
        return
    listed = sum(size for _, size in scans)
    if listed != total:
        problems.add(
            "RFC1939-5.STAT-3",
            f"the sizes add up to {listed} octets, and this session's STAT said {total}",
        )


class List(Oracle):
    keywords = ("LIST",)

    def expect(self, asked: Asked, state: State) -> Expectation:
        view, args = asked.view, asked.args
        spec = COMMANDS["LIST"]
        if not args:
            live = view.live()
            return Expectation(
                OK,
                "RFC1939-5.LIST-2",
                f"one scan listing for each of the {len(live)} messages not marked as deleted",
            )
        n = view.number(spec, args[0])
        if isinstance(n, Expectation):
            return n
        return Expectation(
            OK,
            "RFC1939-5.LIST-1",
            f"the scan listing of message {n}",
            values=(n, view.octets(n)),
        )

    def check(self, asked: Asked, exp: Expectation, response: Response) -> list[Discrepancy]:
        view, args = asked.view, asked.args
        if args:
            return self._check_one(view, exp, response)
        problems = Problems()
        listed: list[int] = []
        for raw in response.lines:
            scan = parse_scan_line(raw)
            if scan is None:
                problems.add("RFC1939-5.LIST-4", f"{raw[:80]!r} is not 'number size'")
                continue
            n, size = scan
            listed.append(n)
            if n in view.deleted:
                problems.add("RFC1939-5.LIST-6", f"message {n} is marked as deleted but listed")
            elif 1 <= n <= view.last and size_problem(view, n, size):
                problems.add("RFC1939-5.LIST-5", size_problem(view, n, size))
        check_numbering(view, listed, "RFC1939-5.LIST-2", problems)
        _add_up(view, response, problems)
        return problems.discrepancies(LIST_EXPECTED)

    @staticmethod
    def _check_one(view: SessionView, exp: Expectation, response: Response) -> list[Discrepancy]:
        if exp.values is None:
            return []
        got = parse_stat(response.text)
        n, size = exp.values
        if got is None or got[0] != n:
            return [Discrepancy("RFC1939-5.LIST-1", f"+OK {n} {size}", response.describe())]
        if got[1] not in view.sizes(n):
            seen = view.seen.size(n)
            shown = f" (as this session's {seen[1]} said)" if seen is not None else ""
            return [Discrepancy("RFC1939-5.LIST-5", f"+OK {n} {size}{shown}", response.describe())]
        return []

    def apply(self, asked: Asked, response: Response) -> None:
        """Sizes that agreed with the model are what this session has seen."""
        view, args = asked.view, asked.args
        if args:
            got = parse_stat(response.text)
            n = got[0] if got is not None else 0
            scans = [got] if got is not None and str(n) == args[0].lstrip("0") else []
        else:
            scans = [s for s in map(parse_scan_line, response.lines) if s is not None]
        for n, size in scans:
            if 1 <= n <= view.last and n not in view.deleted and not size_problem(view, n, size):
                view.seen.saw_size(n, size, f"LIST {n}" if args else "LIST")


def _valid_uid(line: UidLine, problems: Problems) -> str | None:
    n = line.number
    if line.trailing:
        problems.add("RFC1939-7.UIDL-2", f"message {n}: text follows the unique-id")
    uid = line.valid_uid
    if uid is None:
        problems.add(
            "RFC1939-7.UIDL-3",
            f"message {n}: unique-id {line.uid[:80]!r} is not 1 to 70 characters in 0x21-0x7E",
        )
    return uid


class Uidl(Oracle):
    keywords = ("UIDL",)

    def expect(self, asked: Asked, state: State) -> Expectation:
        view, args = asked.view, asked.args
        spec = COMMANDS["UIDL"]
        optional = None if "UIDL" in view.supports else ERR
        if not args:
            return Expectation(
                OK,
                "RFC1939-7.UIDL-2",
                "one unique-id listing for each message not marked as deleted",
                also_accepted=optional,
            )
        n = view.number(spec, args[0])
        if isinstance(n, Expectation):
            return n
        return Expectation(
            OK,
            "RFC1939-7.UIDL-1",
            f"the unique-id listing of message {n}"
            + (f" ({view.uid(n)}, as seen before)" if view.uid(n) else ""),
            values=(n,),
            also_accepted=optional,
        )

    def listed(self, view: SessionView, response: Response, problems: Problems) -> dict[int, str]:
        """The valid ``n uid`` pairs of a UIDL listing; what is wrong goes to ``problems``."""
        seen: list[int] = []
        got: dict[int, str] = {}
        for raw in response.lines:
            line = parse_uid_line(raw)
            if line is None:
                problems.add("RFC1939-7.UIDL-2", f"{raw[:80]!r} is not 'number unique-id'")
                continue
            n = line.number
            seen.append(n)
            uid = _valid_uid(line, problems)
            if n in view.deleted:
                problems.add("RFC1939-7.UIDL-7", f"message {n} is marked as deleted but listed")
            elif uid is not None and 1 <= n <= view.last:
                got.setdefault(n, uid)
        check_numbering(view, seen, "RFC1939-4-7", problems)
        return got

    def one(
        self, view: SessionView, n: int, response: Response, problems: Problems
    ) -> dict[int, str]:
        """The unique-id of a ``+OK n uid`` answer, if it is one for message ``n``."""
        line = parse_uid_line(response.text.encode("latin-1"))
        if line is None or line.number != n:
            problems.add("RFC1939-7.UIDL-1", f"'+OK {n} unique-id', got {response.describe()!r}")
            return {}
        uid = _valid_uid(line, problems)
        return {} if uid is None else {n: uid}

    def check(self, asked: Asked, exp: Expectation, response: Response) -> list[Discrepancy]:
        view, args = asked.view, asked.args
        problems = Problems()
        if args:
            got = self.one(view, exp.values[0] if exp.values else 0, response, problems)
        else:
            got = self.listed(view, response, problems)
        self._consistent(view, got, problems)
        return problems.discrepancies(UIDL_EXPECTED)

    @staticmethod
    def _consistent(view: SessionView, got: dict[int, str], problems: Problems) -> None:
        """Consistency with what was learned before, and uniqueness (RFC1939-7.UIDL-1/4/5)."""
        for n, uid in got.items():
            learned = view.learned(n)
            if learned is not None and learned[0] != uid:
                same = learned[1] == view.serial
                problems.add(
                    "RFC1939-7.UIDL-1" if same else "RFC1939-7.UIDL-5",
                    f"message {n} ({view.message(n).name}) is {uid!r}, "
                    f"{'earlier in this session' if same else 'in an earlier session'} "
                    f"{learned[0]!r}",
                )
        # Every message of the session's maildrop, with the uid reported now or
        # learned earlier; one uid for two different contents breaks uniqueness.
        holders: dict[str, list[int]] = {}
        for n in range(1, view.last + 1):
            seen = got.get(n, view.uid(n))
            if seen is not None:
                holders.setdefault(seen, []).append(n)
        for uid, ns in holders.items():
            contents = {view.message(n).sha256 for n in ns}
            if len(contents) > 1:
                problems.add(
                    "RFC1939-7.UIDL-4",
                    f"{uid!r} names messages {numbers(ns)} of different content",
                )

    def apply(self, asked: Asked, response: Response) -> None:
        """UIDL answers teach the maildrop each message's unique-id (the first one seen stays)."""
        view, args = asked.view, asked.args
        problems = Problems()
        if not args:
            got = self.listed(view, response, problems)
        else:
            arg = args[0]
            n = int(arg) if arg.isascii() and arg.isdigit() else 0
            valid = 1 <= n <= view.last and n not in view.deleted
            got = self.one(view, n, response, problems) if valid else {}
        for n, uid in got.items():
            view.learn(n, uid)
