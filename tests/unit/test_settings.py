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
