"""Migration 0005: ratings keyed by (provider, model, name); what becomes of the old rows."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from aragora.migrations.runner import Migrator
from aragora.records.debates import Rating
from aragora.storage.sql.database import Database
from aragora.storage.sql.storage import sql_storage

from ..storage.support import FAST, pg_database

WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
OLD_RATINGS = {
    "openai:gpt-4o": 1550.0,  # a default name: says its model
    "openai:gpt-4o#2": 1540.0,  # a repeat of it
    "lead": 1600.0,  # a label always run on one model
    "swing": 1450.0,  # a label run on two models
    "ghost": 1500.0,  # a label in no stored debate
}


def _document(*agents: tuple[str, str, str]) -> str:
    return json.dumps({"agents": [{"name": n, "provider": p, "model": m} for n, p, m in agents]})


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{(tmp_path / 'old.db').as_posix()}"
    else:
        with pg_database("aragora_ratings") as pg_url:
            yield pg_url


@pytest.fixture
async def database(url: str) -> AsyncIterator[Database]:
    database = Database(url, options=FAST)
    yield database
    await database.dispose()


async def test_old_ratings_get_the_model_they_were_earned_with(database: Database) -> None:
    await Migrator(database).migrate(target="0004")
    documents = [
        _document(("lead", "anthropic", "claude-x"), ("swing", "openai", "gpt-4o")),
        _document(("lead", "anthropic", "claude-x"), ("swing", "ollama", "llama3")),
        '{"agents": {"name": "lead", "provider": "x", "model": "y"}}',  # not a list: skipped
    ]
    async with database.write() as conn:
        for n, document in enumerate(documents):
            await conn.execute(
                sa.text(
                    "INSERT INTO debates (id, status, task, request, document, created_at,"
                    " updated_at) VALUES (:id, 'completed', 't', '{}', :document, :at, :at)"
                ),
                {"id": f"d{n}", "document": document, "at": WHEN},
            )
        for name, elo in OLD_RATINGS.items():
            await conn.execute(
                sa.text(
                    "INSERT INTO agent_ratings (agent, elo, wins, losses, draws, debates,"
                    " updated_at) VALUES (:agent, :elo, 2, 1, 0, 3, :at)"
                ),
                {"agent": name, "elo": elo, "at": WHEN},
            )
    await Migrator(database).migrate()
    board = await sql_storage(database).ratings.leaderboard()
    assert {r.agent: (r.provider, r.model) for r in board} == {
        "openai:gpt-4o": ("openai", "gpt-4o"),
        "openai:gpt-4o#2": ("openai", "gpt-4o"),
        "lead": ("anthropic", "claude-x"),
        "swing": ("", ""),
        "ghost": ("", ""),
    }
    # every record kept as it was
    assert all((r.wins, r.losses, r.debates) == (2, 1, 3) for r in board)
    assert {r.agent: r.elo for r in board} == OLD_RATINGS
    # a label of unknown model and the same label under a model are two entries now
    ratings = sql_storage(database).ratings
    await ratings.put([Rating("swing", 1700.0, provider="openai", model="gpt-4o")])
    swings = [(r.provider, r.model) for r in await ratings.leaderboard() if r.agent == "swing"]
    assert swings == [("openai", "gpt-4o"), ("", "")]
