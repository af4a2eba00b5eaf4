"""The Knowledge Mound's storage contract, one suite for every backend: memory, SQLite and
PostgreSQL (the ``store`` fixture)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from aragora.errors import InvalidInputError, NotFoundError
from aragora.records.debates import Storage
from aragora.records.knowledge import KnowledgeItem, KnowledgeLink, SearchFilters

T0 = datetime(2026, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)


def item(item_id: str, title: str = "A note", content: str = "", **fields: Any) -> KnowledgeItem:
    hours = fields.pop("hours", 0)
    stamp = T0 + timedelta(hours=hours)
    return KnowledgeItem(
        id=item_id,
        kind=fields.pop("kind", "claim"),
        title=title,
        content=content,
        created_at=fields.pop("created_at", stamp),
        updated_at=fields.pop("updated_at", stamp),
        **fields,
    )


def link(source: str, target: str, kind: str = "supports", seconds: int = 0) -> KnowledgeLink:
    return KnowledgeLink(source, target, kind, T0 + timedelta(seconds=seconds))


async def ids_for(store: Storage, query: str, **kwargs: Any) -> list[str]:
    return [hit.item.id for hit in await store.knowledge_index.search(query, **kwargs)]


# --- items and links --------------------------------------------------------------------------
async def test_an_item_round_trips_every_field(store: Storage) -> None:
    full = item(
        "k1",
        "Use PostgreSQL",
        "Shared state lives in PostgreSQL; ü and 😀 survive.",
        kind="decision",
        source_debate_id="d-42",
        source_agent="demo:skeptic",
        confidence=0.875,
        tags=("storage", "ops ü"),
        provenance={"round": 2, "rule": "majority", "nested": {"list": [1, 2.5, None]}},
        created_at=datetime(2026, 3, 4, 7, 6, 7, 1, tzinfo=timezone(timedelta(hours=2))),
    )
    assert await store.knowledge.put([full]) == 1
    got = await store.knowledge.get("k1")
    assert got == full
    assert got.created_at.tzinfo == UTC
    assert got.created_at == datetime(2026, 3, 4, 5, 6, 7, 1, tzinfo=UTC)
    assert isinstance(got.tags, tuple)
    assert await store.knowledge.count() == 1
    with pytest.raises(NotFoundError):
        await store.knowledge.get("nope")
    with pytest.raises(NotFoundError):
        await store.knowledge.get("k1\x00")
    with pytest.raises(NotFoundError):
        await store.knowledge.delete("k1\x00")
    assert await store.knowledge.links("k1\x00") == []


async def test_writing_the_same_items_twice_changes_nothing(store: Storage) -> None:
    items = [item(f"k{n}", f"Title {n}", f"content {n}", tags=("t",)) for n in range(5)]
    links = [link("k0", "k1"), link("k1", "k2", "contradicts")]
    assert await store.knowledge.put(items, links) == 5
    before = [await store.knowledge.get(f"k{n}") for n in range(5)]
    assert await store.knowledge.put(items, links) == 0
    assert [await store.knowledge.get(f"k{n}") for n in range(5)] == before
    assert await store.knowledge.links("k1") == links


async def test_a_changed_item_is_replaced_and_counted(store: Storage) -> None:
    await store.knowledge.put([item("a", content="one"), item("b", content="two")])
    later = T0 + timedelta(days=1)
    changed = item("a", content="one, revised", updated_at=later)
    assert await store.knowledge.put([changed, item("b", content="two")]) == 1
    assert await store.knowledge.get("a") == changed
    assert await store.knowledge.put([replace(changed, provenance={"why": "x"})]) == 1
    assert (await store.knowledge.get("a")).provenance == {"why": "x"}
    assert await store.knowledge.count() == 2


async def test_links_are_stored_once_and_listed_oldest_first(store: Storage) -> None:
    await store.knowledge.put([item("a"), item("b"), item("c")])
    newer, older = link("a", "b", seconds=5), link("c", "a", "contradicts", seconds=1)
    await store.knowledge.put([], [newer, older, newer])
    await store.knowledge.put([], [replace(newer, created_at=T0 + timedelta(days=9))])
    assert await store.knowledge.links("a") == [older, newer]
    assert await store.knowledge.links("b") == [newer]
    assert await store.knowledge.links("nope") == []


async def test_a_link_to_a_missing_item_writes_nothing(store: Storage) -> None:
    with pytest.raises(InvalidInputError, match=r"'a' -> 'ghost'.*'ghost' does not exist"):
        await store.knowledge.put([item("a"), item("b")], [link("a", "b"), link("a", "ghost")])
    assert await store.knowledge.count() == 0
    with pytest.raises(NotFoundError):
        await store.knowledge.get("a")
    await store.knowledge.put([item("a")])
    await store.knowledge.put([item("b")], [link("a", "b")])  # one end stored, one new
    assert len(await store.knowledge.links("a")) == 1


async def test_delete_removes_the_item_and_its_links(store: Storage) -> None:
    await store.knowledge.put(
        [item("a"), item("b"), item("c")], [link("a", "b"), link("b", "c"), link("a", "c")]
    )
    await store.knowledge.delete("b")
    assert [(k.source_id, k.target_id) for k in await store.knowledge.links("a")] == [("a", "c")]
    assert await store.knowledge.links("c") == [link("a", "c")]
    assert await store.knowledge.count() == 2
    with pytest.raises(NotFoundError):
        await store.knowledge.get("b")
    with pytest.raises(NotFoundError):
        await store.knowledge.delete("b")


@pytest.mark.parametrize(
    ("items", "links", "message"),
    [
        ([item("a", kind="rumour")], [], "'a': kind"),
        ([item("a"), item("a")], [], "'a' appears twice"),
        ([item("a", created_at=datetime(2026, 1, 1))], [], "timezone"),
        ([item("a", confidence=1.5)], [], "confidence"),
        ([item("a", provenance={"x": {1, 2}})], [], "provenance must be JSON"),
        ([item("a", provenance={"x": float("nan")})], [], "provenance must be JSON"),
        ([item("a", content="nul \x00 byte")], [], "NUL"),
        ([item("a", tags=("t\x00",))], [], "NUL"),
        ([item("a"), item("b")], [link("a", "a")], "cannot link to itself"),
        ([item("a"), item("b")], [link("a", "b", "likes")], "kind must be one of"),
        ([item("a")], [link("a", "b\x00")], "NUL"),
    ],
)
async def test_invalid_writes_are_refused_whole(
    store: Storage, items: list[KnowledgeItem], links: list[KnowledgeLink], message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        await store.knowledge.put([item("ok"), *items], links)
    assert await store.knowledge.count() == 0


# --- search -----------------------------------------------------------------------------------
async def test_a_title_match_ranks_above_a_content_match(store: Storage) -> None:
    await store.knowledge.put(
        [
            item("in-content", "Another note", "The quorum was not reached in round two."),
            item("in-title", "Quorum rules", "Nothing else to say here at all."),
            item("neither", "Unrelated", "Cache invalidation and naming things."),
        ]
    )
    hits = await store.knowledge_index.search("quorum")
    assert [hit.item.id for hit in hits] == ["in-title", "in-content"]
    assert hits[0].score > hits[1].score
    assert hits[0].item == await store.knowledge.get("in-title")


async def test_search_stems_words_and_needs_every_word(store: Storage) -> None:
    await store.knowledge.put(
        [
            item("d", "Decision on storage", "We chose PostgreSQL for replicas."),
            item("e", "Evidence", "Replicas lag behind the primary."),
        ]
    )
    assert await ids_for(store, "decisions") == ["d"]
    assert sorted(await ids_for(store, "replica")) == ["d", "e"]
    assert await ids_for(store, "replicas storage") == ["d"]
    assert await ids_for(store, "replicas nonexistentword") == []


async def test_search_filters_by_kind_tags_and_time(store: Storage) -> None:
    await store.knowledge.put(
        [
            item("a", "Latency budget", kind="decision", tags=("perf", "db"), hours=1),
            item("b", "Latency spikes", kind="evidence", tags=("perf",), hours=2),
            item("c", "Latency of caches", kind="claim", tags=("db", "perf", "cache"), hours=3),
        ]
    )
    filters = SearchFilters
    assert sorted(await ids_for(store, "latency")) == ["a", "b", "c"]
    kinds = filters(kinds=("decision", "evidence"))
    assert sorted(await ids_for(store, "latency", filters=kinds)) == ["a", "b"]
    both = filters(tags=("db", "perf"))
    assert sorted(await ids_for(store, "latency", filters=both)) == ["a", "c"]
    assert await ids_for(store, "latency", filters=filters(tags=("nope",))) == []
    window = filters(since=T0 + timedelta(hours=2), until=T0 + timedelta(hours=3))
    assert await ids_for(store, "latency", filters=window) == ["b"]
    mixed = filters(kinds=("claim",), tags=("cache",), since=T0)
    assert await ids_for(store, "latency", filters=mixed) == ["c"]
    with pytest.raises(InvalidInputError):
        await ids_for(store, "latency", filters=filters(kinds=("rumour",)))
    with pytest.raises(InvalidInputError):
        await ids_for(store, "latency", filters=filters(since=datetime(2026, 1, 1)))


async def test_snippets_mark_the_matches_as_safe_html(store: Storage) -> None:
    content = (
        "Long preamble about many unrelated matters before the point. "
        "The <b>quorum</b> rule needs three agents & a judge to agree."
    )
    await store.knowledge.put([item("a", "Voting", content), item("b", "Quorum only")])
    hits = {hit.item.id: hit for hit in await store.knowledge_index.search("quorum")}
    assert "<mark>quorum</mark>" in hits["a"].snippet
    assert "<b>" not in hits["a"].snippet
    assert "&amp;" in hits["a"].snippet or "&lt;b&gt;" in hits["a"].snippet
    assert "<mark>Quorum</mark>" in hits["b"].snippet


@pytest.mark.parametrize(
    "query",
    ['"', "AND OR NOT", "*", "-", "(", "😀", "", "   ", 'quorum"', "NEAR(a b)",
     "title:quorum", "quorum*", "-quorum", "a\x00b", "'; DROP TABLE x; --", "^", "()[]{}",
     "x" * 5000, "ü" * 3000, "\\", "$1 :p %s ?"],
)  # fmt: skip
async def test_odd_queries_never_raise(store: Storage, query: str) -> None:
    await store.knowledge.put([item("a", "Quorum rules", "and or not, near the title")])
    hits = await store.knowledge_index.search(query, filters=SearchFilters(tags=("x",)))
    assert hits == []
    assert isinstance(await store.knowledge_index.search(query), list)


async def test_odd_queries_keep_their_words(store: Storage) -> None:
    await store.knowledge.put([item("a", "Quorum rules")])
    for query in ("quorum*", '"quorum', "-quorum", "(quorum)", "quorum: 😀", "QUORUM!"):
        assert await ids_for(store, query) == ["a"], query
    assert await ids_for(store, "😀") == []


async def test_search_follows_changes_and_deletes(store: Storage) -> None:
    await store.knowledge.put([item("a", "Caching", "Redis holds nothing durable.")])
    assert await ids_for(store, "durable") == ["a"]
    await store.knowledge.put([item("a", "Caching", "Memcached was rejected.", tags=("ops",))])
    assert await ids_for(store, "durable") == []
    assert await ids_for(store, "memcached ops") == ["a"]
    await store.knowledge.put([item("a", "Caching", "Memcached was rejected.", tags=("ops",),
                                    confidence=0.5)])  # fmt: skip
    assert await ids_for(store, "memcached") == ["a"]
    await store.knowledge.delete("a")
    assert await ids_for(store, "memcached") == []


async def test_search_limits(store: Storage) -> None:
    await store.knowledge.put([item(f"k{n}", f"Budget {n}") for n in range(5)])
    assert len(await ids_for(store, "budget", limit=2)) == 2
    assert len(await ids_for(store, "budget", limit=100)) == 5
    for limit in (0, 101):
        with pytest.raises(InvalidInputError):
            await store.knowledge_index.search("budget", limit=limit)


async def test_search_each_finds_what_each_search_finds(store: Storage) -> None:
    await store.knowledge.put(
        [
            item("a", "Latency budget", "Replicas lag.", kind="decision", tags=("perf",), hours=1),
            item("b", "Latency spikes", "Caches help.", kind="evidence", tags=("perf",), hours=2),
            item("c", "Quorum rules", "Latency of votes.", kind="decision", tags=("db",), hours=3),
        ]
        + [item(f"k{n}", f"Budget {n}", "latency") for n in range(4)]
    )
    queries = ["latency", "latency budget", "", "😀", "replicas", '"; DROP', "budget", "nothing"]
    windows = [
        None,
        SearchFilters(kinds=("decision",)),
        SearchFilters(tags=("perf",)),
        SearchFilters(since=T0 + timedelta(hours=2)),
        SearchFilters(since=T0 + timedelta(days=9)),
    ]
    for filters in windows:
        for limit in (1, 3, 100):
            each = await store.knowledge_index.search_each(queries, limit=limit, filters=filters)
            one_by_one = [
                [hit.item for hit in await store.knowledge_index.search(q, limit=limit,
                                                                        filters=filters)]
                for q in queries
            ]  # fmt: skip
            assert each == one_by_one, (filters, limit)
            for enough in (1, 2, 4, 50):
                # searched in order while fewer than `enough` distinct items were found
                expected, seen = [], set()
                for found in one_by_one:
                    expected.append(found if len(seen) < enough else [])
                    seen |= {i.id for i in expected[-1]}
                each = await store.knowledge_index.search_each(
                    queries, limit=limit, filters=filters, enough=enough
                )
                assert each == expected, (filters, limit, enough)
    assert await store.knowledge_index.search_each([]) == []
    with pytest.raises(InvalidInputError):
        await store.knowledge_index.search_each(["latency"], limit=0)
    with pytest.raises(InvalidInputError):
        await store.knowledge_index.search_each(["latency"], enough=0)


# --- scans ------------------------------------------------------------------------------------
async def test_scans_are_ordered_and_complete_across_batches(store: Storage) -> None:
    ids = [f"k{n:02d}" for n in range(23)] + ["K", "k", "é", "z-last"]
    items = [item(item_id) for item_id in reversed(ids)]
    links = [link(f"k{n:02d}", f"k{n + 1:02d}", kind) for n in range(10) for kind in
             ("supports", "contradicts")]  # fmt: skip
    await store.knowledge.put(items, links)
    for batch in (1, 7, 27, 100):
        scanned = [i.id async for i in store.knowledge_index.scan_items(batch=batch)]
        assert scanned == sorted(ids), batch
        keys = [(k.source_id, k.target_id, k.kind) async for k in
                store.knowledge_index.scan_links(batch=batch)]  # fmt: skip
        assert keys == sorted((k.source_id, k.target_id, k.kind) for k in links), batch
    scanned_items = [i async for i in store.knowledge_index.scan_items(batch=4)]
    assert scanned_items[0] == next(i for i in items if i.id == min(ids))
    with pytest.raises(InvalidInputError):
        async for _ in store.knowledge_index.scan_items(batch=0):
            pass


async def test_scans_of_an_empty_mound(store: Storage) -> None:
    assert [i async for i in store.knowledge_index.scan_items()] == []
    assert [k async for k in store.knowledge_index.scan_links()] == []
    assert await store.knowledge.count() == 0
