"""Typed settings from ``LOA_*`` environment variables (and ``.env``), validated at start-up.

Every bad value is reported in one error, each with a hint, so an operator fixes them all at once.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from campaigns import localtime
from gateway import var

ROOT = Path(__file__).resolve().parent.parent


PROVIDERS = ("simulator", "twilio", "smpp", "http")


class SettingsError(Exception):
    """Raised with every invalid setting listed, one per line, each with a hint."""


class Settings(BaseSettings):
    """All of Loa's configuration. Field descriptions are the hints shown on a bad value."""

    model_config = SettingsConfigDict(
        env_prefix="LOA_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    env: Literal["development", "test", "production"] = Field(
        "development", description="one of development, test, production"
    )
    var_dir: Path = Field(ROOT / "var", description="a writable folder for the embedded database")
    database_url: str = Field(
        "", description="an SQLAlchemy URL, e.g. sqlite:///var/loa.db or postgresql+psycopg://…"
    )
    redis_url: str = Field(
        "redis://127.0.0.1:6379/0",
        description="a Redis URL, e.g. redis://127.0.0.1:6379/0, or Sentinel: "
        "redis+sentinel://:PASSWORD@HOST:26379,HOST:26379/SERVICE/0",
    )
    secret_key: SecretStr | None = Field(
        None,
        description="a long random string (python -c 'import secrets;print(secrets.token_hex(32))')",
    )
    public_base_url: str = Field(
        "http://127.0.0.1:5000",
        description="the URL providers call, without trailing slash, e.g. https://loa.example.gov.vn",
    )
    port: int = Field(5000, ge=1, le=65535, description="the web port, 1–65535")
    provider: Literal["simulator", "twilio", "smpp", "http"] = Field(
        "simulator", description="the sending provider: simulator, twilio, smpp or http"
    )
    twilio_account_sid: str = Field("", description="the Twilio Account SID (AC…)")
    twilio_auth_token: SecretStr = Field(SecretStr(""), description="the Twilio auth token")
    twilio_from: str = Field(
        "", description="the sender: an alphanumeric brandname or E.164 number"
    )
    twilio_messaging_service_sid: str = Field("", description="a Messaging Service SID (MG…)")
    twilio_api_base_url: str = Field(
        "https://api.twilio.com",
        description="the Twilio REST base URL (tests point it at a local server)",
    )
    http_profile: str = Field(
        "", description="the aggregator profile: a shipped name (esms) or a path to a .toml file"
    )
    http_base_url: str = Field(
        "", description="the aggregator's API base URL, when not the profile's (tests: a fake)"
    )
    http_api_key: str = Field("", description="the aggregator API key")
    http_secret_key: SecretStr = Field(SecretStr(""), description="the aggregator secret key")
    http_sender: str = Field("", description="the registered brandname (or number) to send from")
    http_webhook_secret: SecretStr = Field(
        SecretStr(""),
        description="the shared secret that authenticates the aggregator's receipts and MO",
    )
    http_allowed_ips: str = Field(
        "", description="CIDRs the aggregator calls from, comma-separated (empty: any address)"
    )
    timezone: str = Field(localtime.DEFAULT, description="an IANA time zone, e.g. Asia/Ho_Chi_Minh")
    default_locale: Literal["vi", "en"] = Field("vi", description="vi or en")
    simulator_latency_ms: int = Field(0, ge=0, le=60_000, description="0–60000 milliseconds")
    simulator_failure_rate: float = Field(0.0, ge=0.0, le=1.0, description="a fraction from 0 to 1")
    rate_per_second: float = Field(
        10.0,
        gt=0,
        le=10_000,
        description="each sender's limit in segments per second; a campaign's rate can only lower it (Twilio: 10)",
    )
    carrier_prices: dict[str, float] = Field(
        default_factory=dict,
        description='JSON of carrier → VND per segment, e.g. {"Viettel": 350, "MobiFone": 340}',
    )
    tip_ack_text: str = Field(
        "",
        max_length=480,
        description="the acknowledgement SMS to tipsters (empty: Loa's neutral Vietnamese text)",
    )
    pause_after_errors: int = Field(
        50, ge=1, le=100_000, description="consecutive provider errors that pause a campaign"
    )
    dispatch_lease_seconds: int = Field(
        300,
        ge=5,
        le=3600,
        description="seconds a claimed delivery is leased before the reconciler settles it",
    )
    dispatch_backoff_seconds: float = Field(
        30.0, gt=0, le=3600, description="seconds before a refused message is first tried again"
    )
    twilio_concurrency: int = Field(
        32,
        ge=1,
        le=256,
        description="requests each worker has open to Twilio at once (Twilio also limits them per account)",
    )
    twilio_read_timeout_seconds: float = Field(
        20.0, gt=0, le=120, description="seconds to wait for Twilio's answer once a request is sent"
    )
    price_per_segment: float = Field(
        350.0, ge=0, description="default price of one segment in VND, used for cost estimates"
    )
    max_request_bytes: int = Field(
        64 * 1024 * 1024, ge=1024, description="the largest request body accepted, in bytes"
    )
    import_async_bytes: int = Field(
        1024 * 1024,
        ge=0,
        description="a contact file larger than this imports in a worker, with a progress page "
        "(the API answers 202); smaller ones import inside the request",
    )
    letter_font: str = Field(
        "",
        description="the TrueType face embedded in the operators' request letters as PDF (empty: "
        "DejaVu Serif, else Liberation Serif)",
    )
    tip_link_days: int = Field(
        14, ge=0, le=365, description="days after a broadcast in which a tip is linked to it"
    )

    reply_providers: str = Field(
        "",
        description="providers for replies to tipsters and alerts to staff, in order of "
        "failover, e.g. smpp,twilio (empty: LOA_PROVIDER)",
    )
    reply_sender: str = Field(
        "", max_length=40, description="the sender of replies, e.g. a short code (empty: default)"
    )
    session_idle_minutes: int = Field(
        30, ge=1, le=24 * 60, description="minutes without a request that end a session (1–1440)"
    )
    session_max_hours: int = Field(
        12, ge=1, le=24 * 30, description="hours after which a session ends anyway (1–720)"
    )
    trusted_proxies: int = Field(
        0,
        ge=0,
        le=5,
        description="how many reverse proxies stand in front of Loa, 0–5 (0: trust no "
        "X-Forwarded-For; never more than there really are)",
    )
    tip_form_wait_seconds: int = Field(
        10,
        ge=0,
        le=600,
        description="seconds a busy public form asks a tipster to wait before sending again",
    )
    security_contact: str = Field(
        "",
        max_length=200,
        description="where to report a security hole (an email or https URL); shown on the "
        "login page and in /.well-known/security.txt",
    )
    # Retention (gateway.retention): days after which personal content is anonymised; 0 = keep.
    retention_tips_days: int = Field(
        1825,
        ge=0,
        le=36_500,
        description="days after a tip is closed before its text, numbers and notes are removed "
        "(0: keep forever); tips on legal hold are kept",
    )
    retention_replies_days: int = Field(
        365,
        ge=0,
        le=36_500,
        description="days after an SMS reply or alert was sent before its text and number are "
        "removed (0: keep forever)",
    )
    retention_deliveries_days: int = Field(
        365,
        ge=0,
        le=36_500,
        description="days after a campaign ended before its recipients' numbers are removed "
        "(0: keep forever)",
    )
    log_format: Literal["", "json", "text"] = Field(
        "",
        description="json (one JSON object per line) or text (readable); empty: json when "
        "LOA_ENV=production, else text",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="DEBUG, INFO, WARNING or ERROR"
    )
    # SMPP 3.4 (``loa smpp`` holds the bind; workers hand it messages through Redis).
    smpp_host: str = Field("", description="the SMSC's host name or address")
    smpp_port: int = Field(2775, ge=1, le=65535, description="the SMSC's port, 1–65535")
    smpp_system_id: str = Field("", max_length=15, description="the bind's system_id (≤ 15 chars)")
    smpp_password: SecretStr = Field(SecretStr(""), description="the bind's password (≤ 8 chars)")
    smpp_system_type: str = Field(
        "", max_length=12, description="the bind's system_type, often empty"
    )
    smpp_source_addr: str = Field(
        "", max_length=20, description="the sender: a short code (e.g. 8079) or a brandname"
    )
    smpp_source_ton: int | None = Field(
        None, ge=0, le=6, description="the sender's TON, 0–6 (empty: 5 for a brandname, else 0)"
    )
    smpp_source_npi: int | None = Field(
        None, ge=0, le=18, description="the sender's NPI (empty: 0 for a brandname, else 1)"
    )
    smpp_dest_ton: int = Field(1, ge=0, le=6, description="the recipients' TON (1: international)")
    smpp_dest_npi: int = Field(1, ge=0, le=18, description="the recipients' NPI (1: E.164)")
    smpp_bind_mode: Literal["transceiver", "transmitter_receiver"] = Field(
        "transceiver",
        description="transceiver (one bind) or transmitter_receiver (two binds, two processes)",
    )
    smpp_window: int = Field(
        10, ge=1, le=1000, description="submit_sm sent and not yet answered, at most (1–1000)"
    )
    smpp_rate_per_second: float = Field(
        30.0, gt=0, le=10_000, description="segments (submit_sm PDUs) per second on the bind"
    )
    smpp_long_messages: Literal["udh", "payload"] = Field(
        "udh", description="udh (concatenated parts) or payload (one PDU with message_payload)"
    )
    smpp_enquire_link_seconds: int = Field(
        30, ge=5, le=600, description="seconds between enquire_link on an idle bind (5–600)"
    )
    smpp_submit_timeout_seconds: float = Field(
        30.0, ge=1, le=600, description="seconds a worker waits for the bind to answer a send"
    )
    smpp_part_timeout_seconds: int = Field(
        600, ge=10, le=86_400, description="seconds to wait for the missing parts of a long tip"
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("public_base_url", "twilio_api_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("http_base_url")
    @classmethod
    def _optional_http_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str) -> str:
        from gateway import sentinel

        if sentinel.is_sentinel(value):
            sentinel.parse(value)  # a ValueError says what is wrong
            return value
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss://, unix:// or redis+sentinel://")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        problems: list[str] = []
        if self.provider == "twilio":
            if not self.twilio_account_sid:
                problems.append("LOA_TWILIO_ACCOUNT_SID is required when LOA_PROVIDER=twilio")
            if not self.twilio_auth_token.get_secret_value():
                problems.append("LOA_TWILIO_AUTH_TOKEN is required when LOA_PROVIDER=twilio")
            if not (self.twilio_from or self.twilio_messaging_service_sid):
                problems.append(
                    "LOA_TWILIO_FROM or LOA_TWILIO_MESSAGING_SERVICE_SID is required "
                    "when LOA_PROVIDER=twilio"
                )
        unknown = [
            n.strip()
            for n in self.reply_providers.split(",")
            if n.strip() and n.strip() not in PROVIDERS
        ]
        if unknown:
            problems.append(
                f"LOA_REPLY_PROVIDERS names unknown providers: {', '.join(unknown)} "
                f"(known: {', '.join(PROVIDERS)})"
            )
        if self.provider == "smpp":
            for name in ("smpp_host", "smpp_system_id", "smpp_source_addr"):
                if not getattr(self, name):
                    problems.append(f"LOA_{name.upper()} is required when LOA_PROVIDER=smpp")
        bad_networks = []
        for cidr in (c.strip() for c in self.http_allowed_ips.split(",")):
            try:
                if cidr:
                    ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                bad_networks.append(cidr)
        if bad_networks:
            problems.append(
                f"LOA_HTTP_ALLOWED_IPS: not an address or CIDR: {', '.join(bad_networks)}"
            )
        if self.provider == "http":
            problems.extend(self._http_problems())
        if self.env == "production" and self.secret_key is None:
            problems.append("LOA_SECRET_KEY is required when LOA_ENV=production")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _http_problems(self) -> list[str]:
        """What LOA_PROVIDER=http lacks: a valid profile and the values its requests use."""
        from gateway.providers.aggregator_profile import ProfileError
        from gateway.providers.aggregator_toml import load_profile

        if not self.http_profile:
            return ["LOA_HTTP_PROFILE is required when LOA_PROVIDER=http (e.g. esms)"]
        try:
            profile = load_profile(self.http_profile)
        except ProfileError as exc:
            return [f"LOA_HTTP_PROFILE: {exc}"]
        used = " ".join(profile.send.fields.values())
        needed = {
            "LOA_HTTP_API_KEY": ("{api_key}" in used, self.http_api_key),
            "LOA_HTTP_SECRET_KEY": (
                "{secret_key}" in used,
                self.http_secret_key.get_secret_value(),
            ),
            "LOA_HTTP_SENDER": ("{sender}" in used, self.http_sender),
            "LOA_HTTP_WEBHOOK_SECRET": (True, self.http_webhook_secret.get_secret_value()),
        }
        return [
            f"{name} is required when LOA_PROVIDER=http (profile {profile.name})"
            for name, (used_here, value) in needed.items()
            if used_here and not value
        ]

    @property
    def effective_database_url(self) -> str:
        """The configured database URL, or SQLite under ``var_dir``."""
        return self.database_url or f"sqlite:///{self.var_dir / 'loa.db'}"

    def secret(self) -> str:
        """The secret key; outside production one is generated once into ``var_dir``."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        return var.secret(self.var_dir / "secret_key")


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment (and ``.env``), with ``overrides`` taking precedence.

    Raises:
        SettingsError: listing every invalid value with its hint.
    """
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"])
            name = f"LOA_{loc.upper()}" if loc else "settings"
            field = Settings.model_fields.get(loc)
            hint = f" (expected {field.description})" if field and field.description else ""
            lines.append(f"  {name}: {err['msg']}{hint}")
        raise SettingsError("Invalid Loa settings:\n" + "\n".join(lines)) from None
    localtime.configure(settings.timezone)
    return settings
