"""Settings: typed, from LOA_* variables, every bad value reported at once with a hint."""

from __future__ import annotations

import pytest

from gateway.settings import SettingsError, load_settings


def test_defaults_are_the_embedded_ones(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """With nothing set, Loa runs on SQLite under var/, the simulator and Vietnam's time."""
    monkeypatch.chdir(tmp_path)
    s = load_settings(var_dir=tmp_path)
    assert s.effective_database_url == f"sqlite:///{tmp_path / 'loa.db'}"
    assert s.provider == "simulator"
    assert s.timezone == "Asia/Ho_Chi_Minh"


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """LOA_* variables set the fields."""
    monkeypatch.setenv("LOA_REDIS_URL", "redis://127.0.0.1:7000/2")
    monkeypatch.setenv("LOA_PORT", "8080")
    s = load_settings()
    assert (s.redis_url, s.port) == ("redis://127.0.0.1:7000/2", 8080)


def test_every_bad_value_is_reported_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Three bad values give one error naming all three, each with a hint."""
    monkeypatch.setenv("LOA_PORT", "99999")
    monkeypatch.setenv("LOA_TIMEZONE", "Mars/Olympus")
    monkeypatch.setenv("LOA_REDIS_URL", "http://nope")
    with pytest.raises(SettingsError) as err:
        load_settings()
    text = str(err.value)
    for name in ("LOA_PORT", "LOA_TIMEZONE", "LOA_REDIS_URL"):
        assert name in text
    assert "expected" in text


def test_twilio_needs_its_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """LOA_PROVIDER=twilio without an account, token and sender is refused, naming each."""
    monkeypatch.setenv("LOA_PROVIDER", "twilio")
    with pytest.raises(SettingsError) as err:
        load_settings()
    for name in ("LOA_TWILIO_ACCOUNT_SID", "LOA_TWILIO_AUTH_TOKEN", "LOA_TWILIO_FROM"):
        assert name in str(err.value)


def test_production_requires_a_secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """In production the secret key is never generated."""
    monkeypatch.setenv("LOA_ENV", "production")
    with pytest.raises(SettingsError, match="LOA_SECRET_KEY"):
        load_settings()


def test_secret_is_generated_once_outside_production(tmp_path) -> None:
    """The demo's secret key is generated into var/ and reused."""
    s = load_settings(var_dir=tmp_path)
    first = s.secret()
    assert len(first) == 64
    assert load_settings(var_dir=tmp_path).secret() == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_http_needs_a_profile_and_its_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """LOA_PROVIDER=http with the esms profile and nothing else names every missing value."""
    monkeypatch.setenv("LOA_PROVIDER", "http")
    monkeypatch.setenv("LOA_HTTP_PROFILE", "esms")
    monkeypatch.setenv("LOA_HTTP_ALLOWED_IPS", "10.0.0.0/8, not-an-ip")
    with pytest.raises(SettingsError) as err:
        load_settings()
    text = str(err.value)
    for name in (
        "LOA_HTTP_API_KEY",
        "LOA_HTTP_SECRET_KEY",
        "LOA_HTTP_SENDER",
        "LOA_HTTP_WEBHOOK_SECRET",
        "LOA_HTTP_ALLOWED_IPS",
    ):
        assert name in text
    assert "not-an-ip" in text


def test_http_profile_problems_are_listed(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """A broken profile fails start-up with each of its problems; an unknown name lists the
    shipped ones."""
    bad = tmp_path / "bad.toml"
    bad.write_text(
        'name = "bad"\nbase_url = "ftp://x"\n[send]\npath = "/s"\n[send.fields]\nto = "{phone}"\n'
    )
    monkeypatch.setenv("LOA_PROVIDER", "http")
    monkeypatch.setenv("LOA_HTTP_PROFILE", str(bad))
    with pytest.raises(SettingsError) as err:
        load_settings()
    text = str(err.value)
    for problem in (
        "base_url: must start with http",
        "unknown placeholder(s) phone",
        "status.rules",
    ):
        assert problem in text
    monkeypatch.setenv("LOA_HTTP_PROFILE", "no-such-aggregator")
    with pytest.raises(SettingsError, match="shipped: esms"):
        load_settings()


def test_http_with_everything_set_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    """The esms profile with its keys, brandname and webhook secret is accepted."""
    for name, value in {
        "PROVIDER": "http",
        "HTTP_PROFILE": "esms",
        "HTTP_API_KEY": "k",
        "HTTP_SECRET_KEY": "s",
        "HTTP_SENDER": "CONGAN-ST",
        "HTTP_WEBHOOK_SECRET": "w",
        "HTTP_ALLOWED_IPS": "203.0.113.0/24",
    }.items():
        monkeypatch.setenv(f"LOA_{name}", value)
    s = load_settings()
    assert (s.provider, s.http_profile, s.http_secret_key.get_secret_value()) == (
        "http",
        "esms",
        "s",
    )


def test_trusted_proxies_default_to_none_and_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy is trusted unless configured; a hop count past 5 or below 0 is refused."""
    assert load_settings().trusted_proxies == 0
    monkeypatch.setenv("LOA_TRUSTED_PROXIES", "1")
    assert load_settings().trusted_proxies == 1
    for bad in ("6", "-1", "yes"):
        monkeypatch.setenv("LOA_TRUSTED_PROXIES", bad)
        with pytest.raises(SettingsError, match="LOA_TRUSTED_PROXIES"):
            load_settings()
