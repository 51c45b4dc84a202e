"""Settings from the environment, a .env file and a YAML file, in that order of precedence."""

from __future__ import annotations

from pathlib import Path

import pytest

from menagerie.settings import Settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("MENAGERIE_") or name in ("EMBLEM_DEV_MODE", "OPENAI_API_KEY"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_defaults_are_the_embedded_ones(tmp_path: Path) -> None:
    settings = Settings()
    assert settings.host == "127.0.0.1"
    assert settings.port == 8000
    assert settings.dev_mode is False
    assert settings.effective_database_url == (
        f"sqlite+aiosqlite:///{tmp_path / 'data' / 'menagerie.db'}"
    )
    assert settings.configured_providers()["offline"] is True
    assert settings.missing_env() == []


def test_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MENAGERIE_PORT", "9001")
    monkeypatch.setenv("MENAGERIE_DATA_DIR", "/tmp/elsewhere")
    monkeypatch.setenv("MENAGERIE_REQUIRED_ENV", "A_VAR, B_VAR")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-standard-name-works-123")
    settings = Settings()
    assert settings.port == 9001
    assert str(settings.resolved_data_dir) == "/tmp/elsewhere"
    assert settings.required_env == ["A_VAR", "B_VAR"]
    assert settings.configured_providers()["openai"] is True
    assert "sk-standard-name-works-123" not in repr(settings)


@pytest.mark.parametrize("name", ["MENAGERIE_DEV_MODE", "EMBLEM_DEV_MODE"])
def test_dev_mode_names(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv(name, "true")
    assert Settings().dev_mode is True


def test_dotenv_and_yaml(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("port: 7000\nenvironment: staging\nlog_level: DEBUG\n")
    (tmp_path / ".env").write_text("MENAGERIE_PORT=7100\n")
    monkeypatch.setenv("MENAGERIE_CONFIG_FILE", str(tmp_path / "config.yaml"))
    settings = Settings()
    assert settings.environment == "staging"  # from YAML
    assert settings.port == 7100  # .env beats YAML
    monkeypatch.setenv("MENAGERIE_PORT", "7200")
    assert Settings().port == 7200  # the environment beats both


def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    monkeypatch.setenv("MENAGERIE_PORT", "99999")
    with pytest.raises(ValidationError):
        Settings()
    monkeypatch.setenv("MENAGERIE_PORT", "8000")
    monkeypatch.setenv("MENAGERIE_ROOT_DIALECT", "klingon")
    with pytest.raises(ValidationError):
        Settings()
