"""Target profiles: the server under test described in a TOML file.

Every key, with an example per provisioner and per password source, is in
``docs/profiles.md`` (a test checks that each key this module accepts is
documented there).  Unknown keys are errors (a misspelt ``pasword`` must not
pass silently); every error is a :class:`ValueError` naming the file and the
key.
"""

from __future__ import annotations

import math
import os
import tomllib
from pathlib import Path
from typing import Any

from conformance.pop3 import DEFAULT_LIMITS, Limits
from conformance.provision import DeliveryOptions, NoProvisioner, Provisioner, make_provisioner
from conformance.provision.options import DEFAULT_WAIT
from conformance.target import Account, Target

_TARGET_KEYS = {
    "host",
    "port",
    "timeout",
    "connect_timeout",
    "calibrate",
    "tls_port",
    "tls_ca",
    "tls_insecure",
    "tls_servername",
    "max_line",
    "max_response",
}
_ACCOUNT_KEYS = {"user", "password", "password_env", "disposable", "apop"}
_PROVISION_KEYS = {
    "kind",
    "path",
    "seed",
    "clear",
    "timeout",
    "address",
    "deliver",
    "tls",
    "recipient",
    "sender",
    "auth_user",
    "auth_password",
    "auth_password_env",
    "wait",
}
_DELIVERERS = ("lmtp", "smtp", "imap")


class _Profile:
    """Typed access to a parsed profile, with errors that name the file and the key."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def error(self, what: str) -> ValueError:
        return ValueError(f"{self.path}: {what}")

    def table(self, data: dict[str, Any], key: str, allowed: set[str]) -> dict[str, Any]:
        value = data.get(key, {})
        if not isinstance(value, dict):
            raise self.error(f"[{key}] must be a table")
        self.only(value, allowed, f"[{key}]")
        return value

    def only(self, table: dict[str, Any], allowed: set[str], where: str) -> None:
        unknown = sorted(set(table) - allowed)
        if unknown:
            raise self.error(
                f"unknown key {unknown[0]!r} in {where}; known: {', '.join(sorted(allowed))}"
            )

    def string(self, table: dict[str, Any], key: str, where: str) -> str:
        value = table.get(key)
        if not isinstance(value, str) or not value:
            raise self.error(f'{where} needs {key} = "..." (a non-empty string)')
        return value

    def boolean(self, table: dict[str, Any], key: str, where: str, default: bool) -> bool:
        value = table.get(key, default)
        if not isinstance(value, bool):
            raise self.error(f"{where} {key} must be true or false")
        return value

    def octets(self, table: dict[str, Any], key: str, where: str, default: int) -> int:
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise self.error(f"{where} {key} must be a whole number of octets above zero")
        return value

    def number(self, table: dict[str, Any], key: str, where: str, default: float) -> float:
        value = table.get(key, default)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value <= 0
        ):
            raise self.error(f"{where} {key} must be a finite, positive number of seconds")
        return float(value)


def load_profile(path: Path) -> Target:
    """Read a target profile (TOML, the format in the module docstring)."""
    p = _Profile(path)
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as e:
        raise p.error(f"cannot read the profile: {e.strerror or e}") from e
    except tomllib.TOMLDecodeError as e:
        raise p.error(f"not valid TOML: {e}") from e
    p.only(data, {"target", "account", "provision"}, "the profile")

    if "target" not in data:
        raise p.error("a [target] table with host (and port) is required")
    t = p.table(data, "target", _TARGET_KEYS)
    host = p.string(t, "host", "[target]")
    port = t.get("port", 110)
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise p.error("[target] port must be an integer from 1 to 65535")

    accounts = _accounts(p, data.get("account"))
    provisioner = _provisioner(p, data, t)
    return Target(
        host=host,
        port=port,
        accounts=accounts,
        provisioner=provisioner,
        timeout=p.number(t, "timeout", "[target]", 10.0),
        connect_timeout=p.number(t, "connect_timeout", "[target]", 5.0),
        calibrate=p.boolean(t, "calibrate", "[target]", False),
        tls_port=_optional_port(p, t, "tls_port"),
        tls_ca=p.string(t, "tls_ca", "[target]") if "tls_ca" in t else None,
        tls_insecure=p.boolean(t, "tls_insecure", "[target]", False),
        tls_servername=p.string(t, "tls_servername", "[target]") if "tls_servername" in t else None,
        limits=Limits(
            max_line=p.octets(t, "max_line", "[target]", DEFAULT_LIMITS.max_line),
            max_response=p.octets(t, "max_response", "[target]", DEFAULT_LIMITS.max_response),
        ),
    )


def _optional_port(p: _Profile, table: dict[str, Any], key: str) -> int | None:
    value = table.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise p.error(f"[target] {key} must be an integer from 1 to 65535")
    return value


def _accounts(p: _Profile, raw: object) -> list[Account]:
    if raw is None:
        raise p.error("at least one [[account]] with user and password is required")
    if not isinstance(raw, list) or not all(isinstance(a, dict) for a in raw):
        raise p.error("accounts are written as [[account]] tables")
    accounts = []
    for i, a in enumerate(raw, start=1):
        where = f"[[account]] #{i}"
        p.only(a, _ACCOUNT_KEYS, where)
        user = p.string(a, "user", where)
        if ("password" in a) == ("password_env" in a):
            raise p.error(f"{where} ({user}) needs exactly one of password and password_env")
        if "password" in a:
            password = p.string(a, "password", where)
        else:
            var = p.string(a, "password_env", where)
            password = os.environ.get(var, "")
            if not password:
                raise p.error(f"{where} ({user}): environment variable {var} is not set or empty")
        disposable = a.get("disposable", False)
        if not isinstance(disposable, bool):
            raise p.error(f"{where} ({user}): disposable must be true or false")
        apop = a.get("apop", False)
        if not isinstance(apop, bool):
            raise p.error(f"{where} ({user}): apop must be true or false")
        accounts.append(Account(user, password, disposable, apop))
    users = [a.user for a in accounts]
    for u in users:
        if users.count(u) > 1:
            raise p.error(f"account {u!r} is listed twice (parallel scenarios need distinct ones)")
    return accounts


def _provisioner(p: _Profile, data: dict[str, Any], t: dict[str, Any]) -> Provisioner:
    if "provision" not in data:
        return NoProvisioner()
    pr = p.table(data, "provision", _PROVISION_KEYS)
    kind = p.string(pr, "kind", "[provision]")
    timeout = p.number(pr, "timeout", "[provision]", 60.0)
    try:
        if kind in ("maildir", "mbox"):
            template = p.string(pr, "path", "[provision]")
            if not Path(template).is_absolute():
                # Relative to the profile, so that a profile and its mail
                # folder can move together.
                template = str(p.path.parent.resolve() / template)
            return make_provisioner(f"{kind}:{template}", timeout=timeout)
        if kind == "exec":
            return make_provisioner(
                "exec",
                seed_cmd=p.string(pr, "seed", "[provision]"),
                clear_cmd=p.string(pr, "clear", "[provision]"),
                timeout=timeout,
            )
        delivery = _delivery(p, pr, t, timeout)
        if kind in _DELIVERERS:
            spec = f"{kind}:{p.string(pr, 'address', '[provision]')}"
        elif kind == "existing" and "deliver" in pr:
            spec = f"existing:{p.string(pr, 'deliver', '[provision]')}"
        else:
            spec = kind
        return make_provisioner(spec, timeout=timeout, delivery=delivery)
    except ValueError as e:
        raise p.error(f"[provision]: {e}") from e


def _delivery(
    p: _Profile, pr: dict[str, Any], t: dict[str, Any], timeout: float
) -> DeliveryOptions:
    """The [provision] keys of a deliverer (lmtp, smtp, imap, or existing's)."""
    where = "[provision]"
    password = None
    if "auth_password" in pr and "auth_password_env" in pr:
        raise p.error(f"{where} takes auth_password or auth_password_env, not both")
    if "auth_password" in pr:
        password = p.string(pr, "auth_password", where)
    elif "auth_password_env" in pr:
        var = p.string(pr, "auth_password_env", where)
        password = os.environ.get(var, "")
        if not password:
            raise p.error(f"{where}: environment variable {var} is not set or empty")
    return DeliveryOptions(
        tls=p.string(pr, "tls", where) if "tls" in pr else "none",
        tls_ca=p.string(t, "tls_ca", "[target]") if "tls_ca" in t else None,
        tls_insecure=p.boolean(t, "tls_insecure", "[target]", False),
        recipient=p.string(pr, "recipient", where) if "recipient" in pr else "{user}",
        sender=p.string(pr, "sender", where) if "sender" in pr else DeliveryOptions.sender,
        auth_user=p.string(pr, "auth_user", where) if "auth_user" in pr else None,
        auth_password=password,
        timeout=timeout,
        wait=p.number(pr, "wait", where, DEFAULT_WAIT),
    )
