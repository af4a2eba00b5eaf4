"""Agent spec parsing (every form in CONTRACT.md "Agent specs") and task validation."""

from __future__ import annotations

import pytest

from aragora.debate.model import MAX_CONTEXT_CHARS, MAX_TASK_CHARS, AgentSpec, Participant, Task
from aragora.errors import InvalidAgentSpecError, InvalidInputError, UserError


@pytest.mark.parametrize(
    ("text", "provider", "model"),
    [
        ("anthropic:claude-sonnet-4-5", "anthropic", "claude-sonnet-4-5"),
        ("openai:gpt-4o", "openai", "gpt-4o"),
        (
            "openrouter:meta-llama/llama-3.3-70b-instruct",
            "openrouter",
            "meta-llama/llama-3.3-70b-instruct",
        ),
        ("gemini:gemini-2.5-flash", "gemini", "gemini-2.5-flash"),
        ("ollama:llama3.2", "ollama", "llama3.2"),
    ],
)
def test_provider_model_specs(text: str, provider: str, model: str) -> None:
    spec = AgentSpec.parse(text)
    assert spec == AgentSpec(provider=provider, model=model)
    assert spec.label is None
    assert spec.base_url is None
    assert str(spec) == text


def test_openai_compatible_spec_carries_its_base_url() -> None:
    spec = AgentSpec.parse("openai-compatible:qwen2.5-7b@http://127.0.0.1:8000/v1")
    assert spec.provider == "openai-compatible"
    assert spec.model == "qwen2.5-7b"
    assert spec.base_url == "http://127.0.0.1:8000/v1"
    assert str(spec) == "openai-compatible:qwen2.5-7b@http://127.0.0.1:8000/v1"


def test_openai_compatible_spec_accepts_https_and_a_label() -> None:
    spec = AgentSpec.parse("openai-compatible:mistral@https://llm.internal:443/v1#local")
    assert spec.model == "mistral"
    assert spec.base_url == "https://llm.internal:443/v1"
    assert spec.label == "local"
    assert str(spec) == "openai-compatible:mistral@https://llm.internal:443/v1#local"


def test_bare_demo_spec() -> None:
    spec = AgentSpec.parse("demo")
    assert spec == AgentSpec(provider="demo", model="")
    assert str(spec) == "demo"


def test_named_demo_spec() -> None:
    spec = AgentSpec.parse("demo:skeptic")
    assert spec == AgentSpec(provider="demo", model="skeptic")
    assert str(spec) == "demo:skeptic"


@pytest.mark.parametrize(
    ("text", "provider", "model", "label"),
    [
        ("openai:gpt-4o#fast", "openai", "gpt-4o", "fast"),
        ("anthropic:claude-sonnet-4-5#x", "anthropic", "claude-sonnet-4-5", "x"),
        ("demo#x", "demo", "", "x"),
        ("demo:optimist#second", "demo", "optimist", "second"),
    ],
)
def test_labels(text: str, provider: str, model: str, label: str) -> None:
    spec = AgentSpec.parse(text)
    assert (spec.provider, spec.model, spec.label) == (provider, model, label)
    assert str(spec) == text


def test_surrounding_space_and_provider_case_are_normalised() -> None:
    spec = AgentSpec.parse("  OpenAI:gpt-4o  ")
    assert spec == AgentSpec(provider="openai", model="gpt-4o")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty agent spec"),
        ("   ", "empty agent spec"),
        ("gpt-4o", "expected provider:model"),
        ("openai:", "missing model after ':'"),
        (":gpt-4o", "expected provider:model"),
        ("open ai:gpt-4o", "expected provider:model"),
        ("1openai:gpt-4o", "expected provider:model"),
        ("open_ai:gpt-4o", "expected provider:model"),
        ("openai:gpt 4o", "model names cannot contain spaces"),
        ("openai:gpt-4o#", "empty label after '#'"),
        ("openai:gpt-4o#  ", "empty label after '#'"),
        ("openai-compatible:llama", "expected openai-compatible:MODEL@http://host:port/v1"),
        ("openai-compatible:@http://127.0.0.1:8000/v1", "expected openai-compatible:MODEL@"),
        ("openai-compatible:llama@", "expected openai-compatible:MODEL@"),
        ("openai-compatible:llama@127.0.0.1:8000/v1", "expected openai-compatible:MODEL@"),
        ("openai-compatible:llama@ftp://host/v1", "expected openai-compatible:MODEL@"),
    ],
)
def test_malformed_specs_raise_naming_the_spec(text: str, reason: str) -> None:
    with pytest.raises(InvalidAgentSpecError) as caught:
        AgentSpec.parse(text)
    error = caught.value
    assert isinstance(error, UserError)
    assert error.code == "invalid_agent_spec"
    assert reason in error.reason
    assert repr(error.spec) in str(error)
    assert error.spec.strip() == text.strip()


@pytest.mark.parametrize(
    "text",
    [
        "openai-compatible:llama@http://",
        "openai-compatible:llama@https://",
        "openai-compatible:llama@http:///v1",
        "openai-compatible:llama@http://bad host:8000/v1",
    ],
)
def test_openai_compatible_base_url_needs_a_host(text: str) -> None:
    # The contract's form is MODEL@http://host:port/v1; a URL with no usable host would
    # only fail later, inside the adapter, instead of as a 400 naming the spec.
    with pytest.raises(InvalidAgentSpecError, match="expected openai-compatible:MODEL@"):
        AgentSpec.parse(text)


def test_a_non_string_spec_is_rejected() -> None:
    with pytest.raises(InvalidAgentSpecError, match="empty agent spec"):
        AgentSpec.parse(None)  # type: ignore[arg-type]


def test_participant_round_trips_through_dict() -> None:
    participant = Participant("claude", "anthropic:claude-sonnet-4-5", "anthropic", "claude")
    assert Participant.from_dict(participant.to_dict()) == participant
    assert participant.is_demo is False
    assert Participant("d", "demo", "demo", "").is_demo is True


def test_task_keeps_question_and_context() -> None:
    task = Task("Should we migrate?", "We run MySQL 5.7.")
    assert task.question == "Should we migrate?"
    assert task.context == "We run MySQL 5.7."
    assert Task("Why?").context == ""


@pytest.mark.parametrize("question", ["", "   \n\t", None, 42])
def test_task_must_be_a_non_empty_string(question: object) -> None:
    with pytest.raises(InvalidInputError, match="task must be a non-empty string"):
        Task(question)  # type: ignore[arg-type]


def test_task_length_limit() -> None:
    assert Task("x" * MAX_TASK_CHARS).question
    with pytest.raises(InvalidInputError, match=f"longer than {MAX_TASK_CHARS} characters"):
        Task("x" * (MAX_TASK_CHARS + 1))


def test_context_must_be_a_string() -> None:
    with pytest.raises(InvalidInputError, match="context must be a string"):
        Task("Why?", None)  # type: ignore[arg-type]


def test_context_length_limit() -> None:
    assert Task("Why?", "c" * MAX_CONTEXT_CHARS).context
    with pytest.raises(InvalidInputError, match=f"context is longer than {MAX_CONTEXT_CHARS}"):
        Task("Why?", "c" * (MAX_CONTEXT_CHARS + 1))
