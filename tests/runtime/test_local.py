"""What a runner holds of the debates it runs is served only while its lease holds."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from aragora.debate.events import Event
from aragora.runtime.local import LocalDebates

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_reads_are_served_while_the_lease_holds_and_not_after() -> None:
    now = [T0]
    local = LocalDebates(now=lambda: now[0])
    log: list[Event] = [Event("debate_start", "d1", 1, "t", data={})]
    builds: list[int] = []

    def build(events: Sequence[Event]) -> dict[str, Any]:
        builds.append(len(events))
        return {"events": len(events)}

    local.running("d1", log, T0 + timedelta(seconds=30))
    assert local.document("d1", build) == {"events": 1}
    assert local.document("d1", build) == {"events": 1}
    assert builds == [1]  # folded once for as long as the log stays as it is
    log.append(Event("round_start", "d1", 2, "t", data={}))
    assert local.document("d1", build) == {"events": 2}
    assert builds == [1, 2]
    local.hold("d1", {"status": "completed"})
    assert local.ended("d1") == {"status": "completed"}

    now[0] = T0 + timedelta(seconds=30)  # not renewed: maybe claimed elsewhere by now
    assert local.document("d1", build) is None
    assert local.ended("d1") is None
    local.renewed("d1", T0 + timedelta(seconds=60))
    assert local.ended("d1") == {"status": "completed"}

    local.release("d1")
    assert local.ended("d1") is None
    assert local.document("d1", build) is None
    assert len(local) == 0
    local.renewed("d1", T0 + timedelta(seconds=90))  # after release: nothing comes back
    local.hold("d1", {"status": "completed"})
    assert local.ended("d1") is None
