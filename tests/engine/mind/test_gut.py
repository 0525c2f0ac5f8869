"""The gut: two centroids, the delta's intensity and charge, what it points toward."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.clock import FrozenClock
from engine.config import load_policy
from engine.memory.embed import HashingEmbedder
from engine.memory.records import NewMemory
from engine.memory.service import MemoryService
from engine.mind.gut import Gut
from engine.store import Store

POLICY = load_policy().policy
GARDEN = [
    "tomatoes in the garden need water every morning",
    "the garden roses bloom in june",
    "compost the garden leaves in autumn",
]
SPACE = "the rocket engine test fired for ninety seconds"


def set_weight(service: MemoryService, memory_id: int, alpha: float, beta: float) -> None:
    service.store.write(
        lambda cur: cur.execute(
            "UPDATE memories SET depth_weight_alpha = ?, depth_weight_beta = ? WHERE id = ?",
            [alpha, beta, memory_id],
        )
    )
    service.reload_scoring_cache()


def test_empty_memory_reads_zero(service: MemoryService) -> None:
    reading = Gut(service, POLICY.gut).measure(["anything at all"])
    assert (reading.intensity, reading.charge, reading.toward) == (0.0, 0.0, [])


def test_attention_equal_to_the_subconscious_reads_zero(service: MemoryService) -> None:
    service.add([NewMemory(kind="message", content=t) for t in GARDEN])
    gut = Gut(service, POLICY.gut)
    centroid = gut.subconscious_centroid()
    assert centroid is not None
    assert gut.measure([centroid]).intensity == pytest.approx(0.0, abs=1e-6)
    alone = Gut(service, POLICY.gut.model_copy(update={"max_memories": 1}))
    assert alone.measure([GARDEN[0]]).intensity < 0.01  # f16 storage vs a fresh f32 embedding


def test_intensity_grows_as_attention_drifts_and_points_toward_the_new_topic(
    service: MemoryService,
) -> None:
    ids = service.add([NewMemory(kind="message", content=t) for t in [*GARDEN, SPACE]])
    set_weight(service, ids[-1], 1.0, 20.0)  # the rocket memory is barely held
    for memory_id in ids[:-1]:
        set_weight(service, memory_id, 10.0, 2.0)
    gut = Gut(service, POLICY.gut)
    near = gut.measure(["water the garden tomatoes", "the roses in the garden"])
    far = gut.measure(["the rocket engine fired", "rocket engine test seconds"])
    assert far.intensity > near.intensity + 0.3
    assert far.toward[0]["id"] == ids[-1] and far.toward[0]["content"] == SPACE
    assert len(far.toward) == POLICY.gut.nearest_k
    assert far.toward[0]["similarity"] >= far.toward[1]["similarity"]
    g = POLICY.gut
    assert far.charge == pytest.approx(min(1.0, (far.intensity - g.charge_floor) / g.charge_scale))
    assert far.charge > near.charge
    assert far.model == service.embedder.name


def test_the_subconscious_leans_toward_heavy_memories(service: MemoryService) -> None:
    ids = service.add([NewMemory(kind="message", content=t) for t in [GARDEN[0], SPACE]])
    gut = Gut(service, POLICY.gut)
    garden, space = service.embed_texts([GARDEN[0], SPACE])
    set_weight(service, ids[0], 20.0, 1.0)
    heavy_garden = gut.subconscious_centroid()
    set_weight(service, ids[0], 1.0, 20.0)
    set_weight(service, ids[1], 20.0, 1.0)
    heavy_space = gut.subconscious_centroid()
    assert heavy_garden is not None and heavy_space is not None
    assert heavy_garden @ garden > heavy_garden @ space
    assert heavy_space @ space > heavy_space @ garden
    capped = Gut(service, POLICY.gut.model_copy(update={"max_memories": 1}))
    only = capped.subconscious_centroid()
    assert only is not None and float(only @ space) == pytest.approx(1.0, abs=1e-2)


def test_attention_weighs_recent_items_more(service: MemoryService) -> None:
    gut = Gut(service, POLICY.gut)
    garden, space = service.embed_texts([GARDEN[0], SPACE])
    towards_space = gut.attention_centroid([GARDEN[0], SPACE])
    towards_garden = gut.attention_centroid([SPACE, GARDEN[0]])
    assert towards_space is not None and towards_garden is not None
    assert towards_space @ space > towards_space @ garden
    assert towards_garden @ garden > towards_garden @ space
    assert gut.attention_centroid([]) is None
    assert np.allclose(gut.attention_centroid([space]), space, atol=1e-6)  # type: ignore[arg-type]


def test_readings_are_stored_and_the_last_survives_a_restart(
    tmp_path: Path, clock: FrozenClock
) -> None:
    def opened(store: Store) -> MemoryService:
        svc = MemoryService(store, HashingEmbedder(), POLICY, clock, tmp_path / "ix")
        svc.open()
        return svc

    with Store(tmp_path / "db.duckdb", clock=clock) as store:
        svc = opened(store)
        svc.add([NewMemory(kind="message", content=t) for t in GARDEN])
        gut = Gut(svc, POLICY.gut)
        assert gut.last is None
        reading = gut.measure([SPACE])
        store.write(lambda cur: Gut.insert(cur, 3, reading, clock.now()))
        signal = Gut.signal(reading, clock.now(), 3)
        assert (signal.intensity, signal.charge, signal.toward) == (
            reading.intensity,
            reading.charge,
            reading.toward,
        )
        svc.close()
    with Store(tmp_path / "db.duckdb", clock=clock) as store:
        svc = opened(store)
        last = Gut(svc, POLICY.gut).last
        assert last is not None
        assert last.intensity == pytest.approx(reading.intensity)
        assert last.toward == reading.toward and last.model == reading.model
        svc.close()


def test_memories_without_a_vector_are_skipped(service: MemoryService) -> None:
    ids = service.add(
        [
            NewMemory(kind="think", content="a private trace, never embedded", embed=False),
            NewMemory(kind="message", content=SPACE),
        ]
    )
    set_weight(service, ids[0], 50.0, 1.0)  # the heaviest memory has no vector
    gut = Gut(service, POLICY.gut.model_copy(update={"max_memories": 1}))
    centroid = gut.subconscious_centroid()
    (space,) = service.embed_texts([SPACE])
    assert centroid is not None and float(centroid @ space) == pytest.approx(1.0, abs=1e-2)


def test_the_centroid_takes_the_heaviest_vectored_memories_past_a_top_without_vectors(
    service: MemoryService,
) -> None:
    """The heaviest memories have no vector: the gut takes the heaviest ones that do."""
    traces = service.add(
        [NewMemory(kind="think", content=f"trace {i}", embed=False) for i in range(6)]
    )
    texts = [f"note {i} about topic {i % 4} and more" for i in range(20)]
    notes = service.add([NewMemory(kind="message", content=t) for t in texts])
    for memory_id in traces:  # the six heaviest have no vector
        set_weight(service, memory_id, 60.0, 1.0)
    for rank, memory_id in enumerate(notes):  # then notes, heaviest first in id order
        set_weight(service, memory_id, 40.0 - rank, 2.0)
    gut = Gut(service, POLICY.gut.model_copy(update={"max_memories": 2}))
    centroid = gut.subconscious_centroid()
    vectors = service.embed_texts(texts[:2])
    weights = np.array([40 / 42, 39 / 41])
    expected = (vectors.astype(np.float64) * weights[:, None]).sum(axis=0) / weights.sum()
    expected /= np.linalg.norm(expected)
    assert centroid is not None and float(centroid @ expected) == pytest.approx(1.0, abs=1e-3)

