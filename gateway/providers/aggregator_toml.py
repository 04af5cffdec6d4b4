"""Reading aggregator profiles from TOML, and validating every part of them.

:func:`load_profile` validates the whole file and raises one :class:`ProfileError` listing every
problem, so settings fail fast at start-up.
"""

from __future__ import annotations

import string
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from campaigns import localtime
from campaigns.sending import Effect, Outcome
from gateway.providers.aggregator_profile import (
    AUTH_KINDS,
    ENCODINGS,
    HASHES,
    LOA_STATUSES,
    METHODS,
    PROFILES_DIR,
    QUERY_PLACEHOLDERS,
    SEND_FORMATS,
    SEND_PLACEHOLDERS,
    WEBHOOK_FORMATS,
    Answer,
    Auth,
    Dedupe,
    ErrorRule,
    Inbound,
    Profile,
    ProfileError,
    Receipts,
    Request,
    StatusRule,
)


def profile_path(name_or_path: str) -> Path:
    """A shipped profile's file (``esms``), or the path itself."""
    if "/" not in name_or_path and not name_or_path.endswith(".toml"):
        return PROFILES_DIR / f"{name_or_path}.toml"
    return Path(name_or_path)


def shipped() -> list[str]:
    """The names of the profiles shipped with Loa."""
    return sorted(p.stem for p in PROFILES_DIR.glob("*.toml"))


def load_profile(name_or_path: str) -> Profile:
    """Read and validate a profile.

    Raises:
        ProfileError: listing every problem found (a missing file, bad TOML, unknown fields).
    """
    path = profile_path(name_or_path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        known = ", ".join(shipped())
        raise ProfileError(f"no profile {name_or_path!r} (shipped: {known}; or a path)") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ProfileError(f"profile {path}: {exc}") from None
    return parse_profile(data, source=str(path))


def parse_profile(data: Mapping[str, Any], source: str = "<profile>") -> Profile:
    """Build a :class:`Profile` from parsed TOML; raises :class:`ProfileError` with all problems."""
    r = _Reader(data)
    name = r.text("name")
    base_url = r.text("base_url")
    if base_url and not base_url.startswith(("http://", "https://")):
        r.problem("base_url", "must start with http:// or https://")
    send = r.request("send", SEND_PLACEHOLDERS)
    answer = Answer(
        success_field=r.text("answer.success_field"),
        success_values=frozenset(r.strings("answer.success_values")),
        message_id_field=r.text("answer.message_id_field"),
        error_field=r.text("answer.error_field"),
    )
    dedupe = Dedupe(
        enabled=bool(r.get("dedupe.enabled", False)),
        window_seconds=float(r.number("dedupe.window_seconds", 0.0)),
        duplicate_codes=frozenset(r.strings("dedupe.duplicate_codes", required=False)),
    )
    if dedupe.enabled and dedupe.window_seconds <= 0:
        r.problem("dedupe.window_seconds", "must be > 0 when dedupe.enabled")
    if (
        dedupe.enabled
        and send.fields
        and not any("{request_id}" in v for v in send.fields.values())
    ):
        r.problem("dedupe.enabled", "needs a send field carrying {request_id}")
    receipts = Receipts(
        method=r.choice("status.method", METHODS, "POST"),
        format=r.choice("status.format", WEBHOOK_FORMATS, "form"),
        auth=r.auth("status.auth", receipts=True),
        rules=r.rules("status.rules"),
        message_id_field=r.text("status.message_id_field", required=False),
        request_id_field=r.text("status.request_id_field", required=False),
        error_field=r.text("status.error_field", required=False),
    )
    if not (receipts.message_id_field or receipts.request_id_field):
        r.problem("status", "needs message_id_field or request_id_field")
    inbound = Inbound(
        method=r.choice("inbound.method", METHODS, "POST"),
        format=r.choice("inbound.format", WEBHOOK_FORMATS, "form"),
        auth=r.auth("inbound.auth", receipts=False),
        message_id_field=r.text("inbound.message_id_field"),
        sender_field=r.text("inbound.sender_field"),
        text_field=r.text("inbound.text_field"),
        to_field=r.text("inbound.to_field", required=False),
        time_field=r.text("inbound.time_field", required=False),
        time_format=r.text("inbound.time_format", required=False),
        time_zone=r.text("inbound.time_zone", required=False) or localtime.DEFAULT,
        answer=r.text("inbound.answer", required=False),
        answer_content_type=r.text("inbound.answer_content_type", required=False)
        or "text/plain; charset=utf-8",
    )
    names = _placeholders(inbound.answer)
    if names is None or names - {"message_id", "sender"}:
        r.problem("inbound.answer", "may use only {message_id} and {sender} (double other braces)")
    try:
        ZoneInfo(inbound.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        r.problem("inbound.time_zone", f"unknown time zone {inbound.time_zone!r}")
    if inbound.time_field and not inbound.time_format:
        r.problem("inbound.time_format", "is required with inbound.time_field (strptime format)")
    query = r.request("status_query", QUERY_PLACEHOLDERS) if "status_query" in data else None
    prefix = r.text("request_id_prefix", required=False) or "loa-"
    errors = r.errors("errors")
    if r.problems:
        raise ProfileError(
            f"invalid aggregator profile {source}:\n" + "\n".join(f"  {p}" for p in r.problems)
        )
    return Profile(
        name=name,
        base_url=base_url.rstrip("/"),
        send=send,
        answer=answer,
        errors=errors,
        dedupe=dedupe,
        receipts=receipts,
        inbound=inbound,
        status_query=query,
        request_id_prefix=prefix,
        source=source,
    )


class _Reader:
    """Reads dotted keys from the TOML data, collecting problems instead of stopping at one."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data
        self.problems: list[str] = []

    def problem(self, key: str, message: str) -> None:
        self.problems.append(f"{key}: {message}")

    def get(self, key: str, default: Any = None) -> Any:
        node: Any = self.data
        for part in key.split("."):
            if not isinstance(node, Mapping) or part not in node:
                return default
            node = node[part]
        return node

    def text(self, key: str, required: bool = True) -> str:
        value = self.get(key)
        if value is None or value == "":
            if required:
                self.problem(key, "is required")
            return ""
        if not isinstance(value, str):
            self.problem(key, "must be a string")
            return ""
        return value

    def number(self, key: str, default: float) -> float:
        value = self.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problem(key, "must be a number")
            return default
        return float(value)

    def strings(self, key: str, required: bool = True) -> list[str]:
        value = self.get(key)
        if value is None:
            if required:
                self.problem(key, "is required (a list of strings)")
            return []
        if isinstance(value, str | int):
            return [str(value)]
        if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
            self.problem(key, "must be a string or a list of strings")
            return []
        return [str(v) for v in value]

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        value = self.get(key, default)
        value = value.upper() if key.endswith("method") and isinstance(value, str) else value
        if value not in choices:
            self.problem(key, f"must be one of {', '.join(choices)}")
            return default
        return str(value)

    def table(self, key: str, required: bool = True) -> Mapping[str, Any]:
        value = self.get(key)
        if value is None:
            if required:
                self.problem(key, "is required (a table)")
            return {}
        if not isinstance(value, Mapping):
            self.problem(key, "must be a table")
            return {}
        return value

    def request(self, key: str, allowed: frozenset[str]) -> Request:
        fields = self.table(f"{key}.fields")
        checked: dict[str, str] = {}
        for name, template in fields.items():
            if not isinstance(template, str):
                self.problem(f"{key}.fields.{name}", "must be a string")
                continue
            names = _placeholders(template)
            unknown = None if names is None else names - allowed
            if unknown is None:
                self.problem(f"{key}.fields.{name}", "has an unbalanced brace")
            elif unknown:
                self.problem(
                    f"{key}.fields.{name}",
                    f"unknown placeholder(s) {', '.join(sorted(unknown))} "
                    f"(known: {', '.join(sorted(allowed))})",
                )
            checked[name] = template
        headers = self.table(f"{key}.headers", required=False)
        for name, template in headers.items():
            names = _placeholders(str(template))
            if names is None or names - allowed:
                self.problem(f"{key}.headers.{name}", "has an unknown placeholder or a stray brace")
        path = self.text(f"{key}.path")
        if path and not path.startswith("/"):
            self.problem(f"{key}.path", "must start with /")
        return Request(
            method=self.choice(f"{key}.method", METHODS, "POST"),
            path=path,
            format=self.choice(f"{key}.format", SEND_FORMATS, "json"),
            fields=checked,
            headers={str(k): str(v) for k, v in headers.items()},
        )

    def auth(self, key: str, receipts: bool) -> Auth:
        table = self.table(key)
        kind = self.choice(f"{key}.kind", AUTH_KINDS, "hmac") if table else ""
        if not table:
            return Auth(kind="hmac")
        auth = Auth(
            kind=kind,
            header=self.text(f"{key}.header", required=False),
            param=self.text(f"{key}.param", required=False),
            algorithm=self.choice(f"{key}.algorithm", HASHES, "sha256"),
            encoding=self.choice(f"{key}.encoding", ENCODINGS, "hex"),
            payload=self.choice(f"{key}.payload", ("body", "url_and_body"), "url_and_body"),
            prefix=self.text(f"{key}.prefix", required=False),
            fields=tuple(self.strings(f"{key}.fields", required=False)),
        )
        if kind == "hmac" and not auth.header:
            self.problem(f"{key}.header", "is required for kind = hmac")
        if kind == "shared_secret" and not (auth.header or auth.param):
            self.problem(key, "kind = shared_secret needs a header or a param")
        if kind == "digest" and not (auth.param and auth.fields):
            self.problem(key, "kind = digest needs a param and fields")
        if kind == "url_token" and not receipts:
            self.problem(f"{key}.kind", "url_token is for receipts only (Loa builds their URL)")
        return auth

    def rules(self, key: str) -> tuple[StatusRule, ...]:
        value = self.get(key)
        if not isinstance(value, list) or not value:
            self.problem(key, "is required: a list of {when = {field = value}, status = ...}")
            return ()
        rules: list[StatusRule] = []
        for i, item in enumerate(value):
            where = f"{key}[{i}]"
            if not isinstance(item, Mapping) or not isinstance(item.get("when"), Mapping):
                self.problem(where, "needs a table 'when' and a 'status'")
                continue
            status = item.get("status")
            if status not in LOA_STATUSES:
                self.problem(f"{where}.status", f"must be one of {', '.join(LOA_STATUSES)}")
                continue
            when = self._conditions(f"{where}.when", item["when"])
            if not when:
                self.problem(f"{where}.when", "must name at least one field")
            unless = item.get("unless", {})
            if not isinstance(unless, Mapping):
                self.problem(f"{where}.unless", "must be a table")
                unless = {}
            rules.append(
                StatusRule(
                    when=when,
                    status=str(status),
                    unless=self._conditions(f"{where}.unless", unless),
                )
            )
        return tuple(rules)

    def _conditions(self, key: str, table: Mapping[str, Any]) -> dict[str, frozenset[str]]:
        conditions: dict[str, frozenset[str]] = {}
        for name, wanted in table.items():
            values = wanted if isinstance(wanted, list) else [wanted]
            if not values or not all(isinstance(v, str | int) for v in values):
                self.problem(f"{key}.{name}", "must be a string or a list of strings")
                continue
            conditions[str(name)] = frozenset(str(v) for v in values)
        return conditions

    def errors(self, key: str) -> dict[str, ErrorRule]:
        table = self.table(key, required=False)
        outcomes = {o.value: o for o in Outcome if o is not Outcome.ACCEPTED}
        effects = {e.value: e for e in Effect}
        rules: dict[str, ErrorRule] = {}
        for code, spec in table.items():
            where = f"{key}.{code}"
            if not isinstance(spec, Mapping):
                self.problem(where, 'must be a table like {outcome = "failed", effect = "halt"}')
                continue
            outcome = outcomes.get(str(spec.get("outcome")))
            effect = effects.get(str(spec.get("effect", "none")))
            if outcome is None:
                self.problem(f"{where}.outcome", f"must be one of {', '.join(outcomes)}")
            if effect is None:
                self.problem(f"{where}.effect", f"must be one of {', '.join(effects)}")
            retry_after = spec.get("retry_after")
            if retry_after is not None and (
                isinstance(retry_after, bool) or not isinstance(retry_after, int | float)
            ):
                self.problem(f"{where}.retry_after", "must be a number of seconds")
                retry_after = None
            if outcome is not None and effect is not None:
                rules[str(code)] = ErrorRule(
                    outcome, effect, float(retry_after) if retry_after is not None else None
                )
        return rules


def _placeholders(template: str) -> set[str] | None:
    """The placeholder names in a ``str.format`` template, or None when it is malformed."""
    try:
        return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError:
        return None
