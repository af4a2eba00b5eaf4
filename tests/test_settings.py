"""aragora.settings: exact variable names, defaults, derived values, readable errors."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from aragora.errors import ConfigurationError
from aragora.settings import Settings, load_settings

# The Environment table of CONTRACT.md, spelled exactly.
CONTRACT_VARIABLES = frozenset(
    {
        "ARAGORA_HOST",
        "ARAGORA_PORT",
        "ARAGORA_DATA_DIR",
        "ARAGORA_DATABASE_URL",
        "ARAGORA_DATABASE_READ_URL",
        "ARAGORA_DB_POOL_SIZE",
        "ARAGORA_DB_MAX_OVERFLOW",
        "ARAGORA_DB_PGBOUNCER",
        "ARAGORA_REDIS_URL",
        "ARAGORA_ADMIN_TOKEN",
        "ARAGORA_REQUIRE_AUTH",
        "ARAGORA_MAX_CONCURRENT_DEBATES",
        "ARAGORA_AGENT_TIMEOUT",
        "ARAGORA_DEBATE_TIMEOUT",
        "ARAGORA_DEFAULT_AGENTS",
        "ARAGORA_DEMO_DELAY",
        "ARAGORA_LOG_LEVEL",
        "ARAGORA_LOG_FORMAT",
        "ARAGORA_RECEIPT_SIGNING_KEY_FILE",
        "ARAGORA_RECEIPT_ISSUER",
        "ANTHROPIC_API_KEY",
        "OPENAI_API_KEY",
        "OPENROUTER_API_KEY",
        "GEMINI_API_KEY",
        "ANTHROPIC_BASE_URL",
        "OPENAI_BASE_URL",
        "OPENROUTER_BASE_URL",
        "GEMINI_BASE_URL",
        "OLLAMA_HOST",
        "ARAGORA_OPENROUTER_FALLBACK",
    }
)

# The additions table of CONTRACT.md's Environment, beyond the standard variables above:
# first storage, leases and shutdown, the agent endpoints allowlist, the OpenRouter
# fallback model map and the server's request limits, then the groups below.
EXTRA_VARIABLES = frozenset(
    {
        "ARAGORA_AUTO_MIGRATE",
        "ARAGORA_AGENT_ENDPOINTS",
        "ARAGORA_OPENROUTER_MODELS_FILE",
        "ARAGORA_SHUTDOWN_GRACE",
        "ARAGORA_LEASE_TTL",
        "ARAGORA_MAX_BODY_BYTES",
        "ARAGORA_CORS_ORIGINS",
        # decision integrity: agents that are down
        "ARAGORA_AGENT_WAIT",
        "ARAGORA_REFUSE_WHEN_AGENTS_DOWN",
        # agent resilience
        "ARAGORA_AGENT_LIMITS",
        "ARAGORA_AGENT_QUEUE_TIMEOUT",
        "ARAGORA_AGENT_CONNECT_RETRY",
        # server: exposure confirmation, the queue bound, inbound rate limits; library logs
        "ARAGORA_ALLOW_UNAUTHENTICATED_NETWORK",
        "ARAGORA_MAX_QUEUED_DEBATES",
        "ARAGORA_RATE_LIMIT",
        "ARAGORA_RATE_LIMIT_DEBATES",
        "ARAGORA_RATE_LIMIT_LOOPBACK",
        "ARAGORA_LOG_LIBRARIES",
        "ARAGORA_ACCESS_LOG",
        # the OpenAI-compatible API's named panels
        "ARAGORA_PANELS",
        # past decisions within a token budget
        "ARAGORA_KNOWLEDGE_CONTEXT_TOKENS",
        "ARAGORA_KNOWLEDGE_RELEVANCE",
        # webhooks
        "ARAGORA_WEBHOOK_ENDPOINTS",
        "ARAGORA_WEBHOOK_MAX_ATTEMPTS",
        "ARAGORA_WEBHOOK_TIMEOUT",
        # a replica whose event loop runs late claims no new debate
        "ARAGORA_MAX_LOOP_LAG_MS",
    }
)

# The project's own copy of the contract: part of the repository, so this never skips.
CONTRACT = Path(__file__).resolve().parents[1] / "docs" / "CONTRACT.md"


def _variable_names() -> set[str]:
    return {str(field.validation_alias) for field in Settings.model_fields.values()}


def test_every_contract_variable_has_exactly_one_field() -> None:
    aliases = [str(field.validation_alias) for field in Settings.model_fields.values()]
    assert len(aliases) == len(set(aliases))
    assert set(aliases) == CONTRACT_VARIABLES | EXTRA_VARIABLES


def _tables(section: str) -> list[set[str]]:
    """The variables named in the first column of each table of ``section``."""
    tables: list[set[str]] = []
    in_table = False
    for line in section.splitlines():
        if line.startswith("| `"):
            if not in_table:
                tables.append(set())
            in_table = True
            tables[-1].update(re.findall(r"`([A-Z][A-Z0-9_]+)`", line.split("|")[1]))
        elif not line.startswith("|"):
            in_table = False
    return tables


def test_the_variable_list_matches_the_contract() -> None:
    text = CONTRACT.read_text(encoding="utf-8")
    section = text.split("## Environment", 1)[1].split("\n## ", 1)[0]
    standard, additions = _tables(section)
    assert standard == CONTRACT_VARIABLES
    assert additions == EXTRA_VARIABLES
    assert standard | additions == _variable_names()  # every variable the code reads


def test_the_readme_documents_every_variable_and_links_the_contract() -> None:
    readme = (CONTRACT.parents[1] / "README.md").read_text(encoding="utf-8")
    assert "docs/CONTRACT.md" in readme
    section = readme.split("## Environment", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", section))
    assert named >= EXTRA_VARIABLES


def test_defaults_follow_the_contract(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    settings = load_settings({})
    assert settings.host == "127.0.0.1"
    assert settings.port == 8080
    assert settings.data_dir == tmp_path / ".aragora"
    assert settings.database_url is None
    assert settings.effective_database_url == f"sqlite:///{tmp_path.as_posix()}/.aragora/aragora.db"
    assert settings.redis_url is None
    assert settings.max_concurrent_debates == 10
    assert settings.demo_delay == 0.5
    assert settings.log_level == "INFO"
    assert settings.log_format == "console"
    assert settings.agent_timeout == 120
    assert settings.debate_timeout == 900
    assert settings.default_agents == ["demo", "demo", "demo"]
    assert settings.require_auth is None
    assert settings.effective_require_auth is False
    assert settings.openrouter_fallback is None
    assert settings.effective_openrouter_fallback is False
    assert settings.anthropic_api_key is None
    assert settings.openai_base_url == "https://api.openai.com/v1"
    assert settings.ollama_host == "http://127.0.0.1:11434"
    assert settings.secret_values() == ()


def test_an_explicit_mapping_replaces_the_process_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ARAGORA_PORT", "1234")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-process")
    assert load_settings({}).port == 8080
    assert load_settings({}).openai_api_key is None
    assert load_settings({"ARAGORA_PORT": "9000"}).port == 9000
    from_process = load_settings()
    assert from_process.port == 1234
    assert from_process.openai_api_key == SecretStr("sk-from-process")


def test_values_are_parsed_from_text(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "ARAGORA_HOST": "0.0.0.0",
            "ARAGORA_PORT": "9000",
            "ARAGORA_DATA_DIR": str(tmp_path / "state"),
            "ARAGORA_DATABASE_URL": "postgresql://aragora@127.0.0.1:5432/test",
            "ARAGORA_DATABASE_READ_URL": "postgresql+asyncpg://ro@127.0.0.1/test",
            "ARAGORA_DB_POOL_SIZE": "20",
            "ARAGORA_DB_MAX_OVERFLOW": "0",
            "ARAGORA_DB_PGBOUNCER": "true",
            "ARAGORA_REDIS_URL": "redis://127.0.0.1:6379/0",
            "ARAGORA_MAX_CONCURRENT_DEBATES": "3",
            "ARAGORA_AGENT_TIMEOUT": "2.5",
            "ARAGORA_DEBATE_TIMEOUT": "60",
            "ARAGORA_DEFAULT_AGENTS": " openai:gpt-4o , anthropic:claude-sonnet-4-5,demo:judge ",
            "ARAGORA_DEMO_DELAY": "0",
            "ARAGORA_LOG_LEVEL": "debug",
            "ARAGORA_LOG_FORMAT": "JSON",
            "ARAGORA_RECEIPT_SIGNING_KEY_FILE": str(tmp_path / "key.pem"),
            "ARAGORA_RECEIPT_ISSUER": "aragora.example",
            "OPENAI_BASE_URL": "http://127.0.0.1:8000/v1/",
            "OLLAMA_HOST": "0.0.0.0",
            "UNRELATED": "ignored",
        }
    )
    assert settings.host == "0.0.0.0"
    assert settings.port == 9000
    assert settings.data_dir == tmp_path / "state"
    assert settings.effective_database_url == "postgresql://aragora@127.0.0.1:5432/test"
    assert settings.database_read_url == "postgresql+asyncpg://ro@127.0.0.1/test"
    assert (settings.db_pool_size, settings.db_max_overflow, settings.db_pgbouncer) == (
        20,
        0,
        True,
    )
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert settings.max_concurrent_debates == 3
    assert (settings.agent_timeout, settings.debate_timeout, settings.demo_delay) == (2.5, 60, 0)
    assert settings.default_agents == ["openai:gpt-4o", "anthropic:claude-sonnet-4-5", "demo:judge"]
    assert (settings.log_level, settings.log_format) == ("DEBUG", "json")
    assert settings.receipt_signing_key_file == tmp_path / "key.pem"
    assert settings.receipt_issuer == "aragora.example"
    assert settings.openai_base_url == "http://127.0.0.1:8000/v1"
    assert settings.ollama_host == "http://0.0.0.0:11434"


def test_relative_and_home_paths_become_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    assert load_settings({"ARAGORA_DATA_DIR": "~/data"}).data_dir == tmp_path / "data"
    assert load_settings({"ARAGORA_DATA_DIR": "rel"}).data_dir == tmp_path / "rel"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("false", []),
        ("OFF", []),
        ("true", ["*"]),
        ("1", ["*"]),
        (" sqlalchemy.engine , httpx ", ["sqlalchemy.engine", "httpx"]),
    ],
)
def test_library_loggers_are_parsed(value: str, expected: list[str]) -> None:
    assert load_settings({"ARAGORA_LOG_LIBRARIES": value}).log_libraries == expected


def test_logs_defaults_quiet_libraries_and_keep_the_access_log() -> None:
    settings = load_settings({})
    assert settings.log_libraries == []
    assert settings.access_log is True
    assert load_settings({"ARAGORA_ACCESS_LOG": "false"}).access_log is False


def test_blank_variables_take_the_default() -> None:
    settings = load_settings(
        {"ARAGORA_PORT": "", "OPENAI_API_KEY": "  ", "ARAGORA_REQUIRE_AUTH": ""}
    )
    assert settings.port == 8080
    assert settings.openai_api_key is None
    assert settings.require_auth is None


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", False),
        ("127.8.9.10", False),
        ("::1", False),
        ("[::1]", False),
        ("localhost", False),
        ("0.0.0.0", True),
        ("::", True),
        ("10.0.0.5", True),
        ("aragora.internal", True),
    ],
)
def test_require_auth_is_derived_from_the_bind_address(host: str, expected: bool) -> None:
    assert load_settings({"ARAGORA_HOST": host}).effective_require_auth is expected


@pytest.mark.parametrize(("host", "value"), [("127.0.0.1", "true"), ("0.0.0.0", "false")])
def test_require_auth_when_set_wins(host: str, value: str) -> None:
    settings = load_settings({"ARAGORA_HOST": host, "ARAGORA_REQUIRE_AUTH": value})
    assert settings.effective_require_auth is (value == "true")


def test_openrouter_fallback_follows_the_key_unless_set() -> None:
    assert load_settings({"OPENROUTER_API_KEY": "or-key"}).effective_openrouter_fallback is True
    assert load_settings({}).effective_openrouter_fallback is False
    disabled = load_settings({"OPENROUTER_API_KEY": "or-key", "ARAGORA_OPENROUTER_FALLBACK": "0"})
    assert disabled.effective_openrouter_fallback is False
    forced = load_settings({"ARAGORA_OPENROUTER_FALLBACK": "yes"})
    assert forced.effective_openrouter_fallback is True


def test_secrets_are_hidden_and_listed_for_redaction() -> None:
    settings = load_settings(
        {
            "ANTHROPIC_API_KEY": "sk-ant-123",
            "OPENAI_API_KEY": "sk-oai-456",
            "OPENROUTER_API_KEY": "sk-or-789",
            "GEMINI_API_KEY": "gm-000",
            "ARAGORA_ADMIN_TOKEN": "admin-token",
            "ARAGORA_DATABASE_URL": "postgresql://user:p%40ss@127.0.0.1/test",
            "ARAGORA_REDIS_URL": "redis://:redis-pass@127.0.0.1:6379/0",
        }
    )
    for key in (
        settings.anthropic_api_key,
        settings.openai_api_key,
        settings.openrouter_api_key,
        settings.gemini_api_key,
        settings.admin_token,
    ):
        assert isinstance(key, SecretStr)
    shown = repr(settings) + str(settings)
    for secret in ("sk-ant-123", "sk-oai-456", "sk-or-789", "gm-000", "admin-token"):
        assert secret not in shown
    assert set(settings.secret_values()) == {
        "sk-ant-123",
        "sk-oai-456",
        "sk-or-789",
        "gm-000",
        "admin-token",
        "p%40ss",
        "p@ss",
        "redis-pass",
    }


def test_settings_are_immutable() -> None:
    settings = load_settings({})
    with pytest.raises(ValueError, match="frozen"):
        settings.port = 1


def test_keyword_arguments_take_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARAGORA_PORT", "1234")
    assert Settings(port=4321).port == 4321
    by_variable_name: dict[str, Any] = {"ARAGORA_PORT": 4322}
    assert Settings(**by_variable_name).port == 4322


def test_misspelt_keyword_arguments_are_rejected() -> None:
    misspelt: dict[str, Any] = {"prot": 1}
    with pytest.raises(ValueError, match="prot"):
        Settings(**misspelt)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"ARAGORA_PORT": "http"}, "ARAGORA_PORT: Input should be a valid integer"),
        ({"ARAGORA_PORT": "70000"}, "ARAGORA_PORT: Input should be less than or equal to 65535"),
        ({"ARAGORA_DEMO_DELAY": "-1"}, "ARAGORA_DEMO_DELAY: Input should be greater than or equal"),
        ({"ARAGORA_AGENT_TIMEOUT": "0"}, "ARAGORA_AGENT_TIMEOUT: Input should be greater than 0"),
        ({"ARAGORA_MAX_CONCURRENT_DEBATES": "0"}, "ARAGORA_MAX_CONCURRENT_DEBATES: Input should"),
        ({"ARAGORA_LOG_LEVEL": "verbose"}, "ARAGORA_LOG_LEVEL: Input should be 'DEBUG'"),
        ({"ARAGORA_LOG_FORMAT": "xml"}, "ARAGORA_LOG_FORMAT: Input should be 'json' or 'console'"),
        (
            {"ARAGORA_REQUIRE_AUTH": "maybe"},
            "ARAGORA_REQUIRE_AUTH: Input should be a valid boolean",
        ),
        ({"ARAGORA_DEFAULT_AGENTS": " , "}, "ARAGORA_DEFAULT_AGENTS: must name at least one"),
        ({"ARAGORA_DATABASE_URL": "mysql://x/y"}, "ARAGORA_DATABASE_URL: must be a postgresql"),
        ({"ARAGORA_REDIS_URL": "http://x"}, "ARAGORA_REDIS_URL: must be a redis://"),
        ({"OPENAI_BASE_URL": "api.openai.com"}, "OPENAI_BASE_URL: must be an http:// or https://"),
        ({"OLLAMA_HOST": "ftp://x"}, "OLLAMA_HOST: must be a host, host:port or http(s) URL"),
        ({"ARAGORA_LOG_LIBRARIES": "httpx,not a logger"}, "ARAGORA_LOG_LIBRARIES: must be true"),
        ({"ARAGORA_ACCESS_LOG": "sometimes"}, "ARAGORA_ACCESS_LOG: Input should be a valid"),
    ],
)
def test_invalid_values_name_the_variable_in_one_line(env: dict[str, str], expected: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(env)
    message = str(caught.value)
    assert message.startswith("invalid configuration: ")
    assert expected in message
    assert "\n" not in message


def test_every_invalid_variable_is_reported() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings({"ARAGORA_PORT": "x", "ARAGORA_DEMO_DELAY": "slow"})
    message = str(caught.value)
    assert "ARAGORA_PORT: " in message
    assert "(got 'x')" in message
    assert "ARAGORA_DEMO_DELAY: " in message


def test_errors_never_echo_secrets_or_url_passwords() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings({"ARAGORA_DATABASE_URL": "mysql://user:hunter2@db/x"})
    assert "hunter2" not in str(caught.value)
    assert "hunter2" not in str(caught.value.__cause__)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1", "http://127.0.0.1:11434"),
        ("127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("https://ollama.internal", "https://ollama.internal:443"),
        ("http://[::1]:11434/", "http://[::1]:11434"),
        ("http://localhost:11434/prefix/", "http://localhost:11434/prefix"),
    ],
)
def test_ollama_host_is_normalised_to_a_base_url(value: str, expected: str) -> None:
    assert load_settings({"OLLAMA_HOST": value}).ollama_host == expected


def test_no_settings_are_built_at_import() -> None:
    import aragora.settings as module

    built = [name for name, value in vars(module).items() if isinstance(value, Settings)]
    assert built == []
