"""The start-up schema check: a database at the head costs one query and no Alembic; any
other database still goes through Alembic (refused, or migrated)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory

import aragora.migrations.runner as runner
from aragora.errors import DatabaseUnavailableError, SchemaMismatchError
from aragora.migrations.runner import Migrator, ensure_schema
from aragora.storage.sql.database import Database

from ..storage.support import FAST, pg_database


def test_the_head_read_from_the_version_files_is_alembics() -> None:
    config = Config()
    config.set_main_option("script_location", str(Path(runner.__file__).parent))
    assert runner._shipped_head() == ScriptDirectory.from_config(config).get_current_head()


def test_version_files_it_cannot_read_as_one_chain_leave_it_to_alembic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    versions = tmp_path / "versions"
    versions.mkdir()

    def head(**files: str) -> str | None:
        for old in versions.glob("*.py"):
            old.unlink()
        for name, text in files.items():
            (versions / f"{name}.py").write_text(textwrap.dedent(text))
        runner._shipped_head.cache_clear()
        return runner._shipped_head()

    monkeypatch.setattr(runner, "_HERE", tmp_path)
    try:
        one = 'revision = "a1"\ndown_revision = None\n'
        two = 'revision = "b2"\ndown_revision = "a1"\n'
        assert head(one=one, two=two) == "b2"
        assert head(one=one) == "a1"
        branch = 'revision = "c3"\ndown_revision = "a1"\n'
        assert head(one=one, two=two, branch=branch) is None  # two heads
        merge = 'revision = "d4"\ndown_revision = ("b2", "c3")\n'
        assert head(one=one, two=two, branch=branch, merge=merge) is None  # not a string
        assert head(one=one, odd='revision: str = "x"\ndown_revision = "a1"\n') is None
        assert head(one=one, orphan='revision = "e5"\ndown_revision = "zz"\n') is None
        assert head(one=one, again=one) is None  # one revision twice
    finally:
        runner._shipped_head.cache_clear()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> object:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path.as_posix()}/aragora.db"
        return
    with pg_database("aragora_startup_check") as url:
        yield url


async def test_a_database_at_the_head_is_not_handed_to_alembic(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = Database(database_url, options=FAST)
    try:
        migrated = await ensure_schema(database, auto_migrate=True)
        head = runner._shipped_head()
        assert migrated.current == head

        def no_alembic(*args: object, **kwargs: object) -> None:
            raise AssertionError("the start-up check went through Alembic")

        monkeypatch.setattr(Migrator, "status", no_alembic)
        status = await ensure_schema(database, auto_migrate=False)
        assert (status.current, status.head, status.pending, status.up_to_date) == (
            head,
            head,
            (),
            True,
        )
        monkeypatch.undo()
        async with database.write() as conn:  # another revision: Alembic's path again
            await conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
        with pytest.raises(SchemaMismatchError, match="9999, which this Aragora does not"):
            await ensure_schema(database, auto_migrate=True)
    finally:
        await database.dispose()


async def test_an_unreachable_database_is_reported_once() -> None:
    database = Database("postgresql://nobody@127.0.0.1:9/none", options=FAST)
    try:
        with pytest.raises(DatabaseUnavailableError, match="unavailable"):
            await ensure_schema(database, auto_migrate=True)
    finally:
        await database.dispose()


def test_a_start_on_a_migrated_database_imports_neither_alembic_nor_redis(
    tmp_path: Path,
) -> None:
    """What ``aragora serve`` loads before it answers, on SQLite without Redis: Alembic
    (with Mako and Pygments) and the Redis client stay out of the process."""
    script = textwrap.dedent(
        f"""
        import asyncio, functools, sys
        from aragora.migrations.runner import ensure_schema
        from aragora.settings import load_settings
        from aragora import wiring
        from aragora.server.app import create_app

        settings = load_settings({{"ARAGORA_DATA_DIR": {str(tmp_path)!r}}})

        async def start():
            check = functools.partial(ensure_schema, auto_migrate=True)
            node = await wiring.open_node(settings, check_schema=check)
            create_app(settings, node=node)
            await node.close()

        asyncio.run(start())
        print(sorted({{n.split(".")[0] for n in sys.modules}} & {{"alembic", "mako", "redis"}}))
        """
    )

    def start() -> str:
        result = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip().splitlines()[-1]

    assert start() == "['alembic', 'mako']"  # the first start migrates the new database
    assert start() == "[]"
