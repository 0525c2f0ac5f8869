"""Where attention's and the exit gate's inputs come from: memory, goals and the gut.

- **Novelty** of a text: ``1 - max cosine similarity`` of its embedding to the
  stored memories (nearest neighbour in the vector index); 1.0 when memory is
  empty or absent.
- **Relevance** to the active goals: the highest cosine similarity (clipped to
  [0, 1]) of the text to any active goal. The *active goals* are, simply, the
  ``attention.goal_recent_messages`` latest operator (``user``) messages of the
  working transcript, plus up to ``attention.goal_memories`` memories that are
  pinned or of kind ``goal`` (highest depth weight first): what the operator is
  talking about now, and what has been marked as mattering. 0 with no goals.
- **Charge**: the latest gut reading's charge (0 before the first).

Embeddings of texts are cached (candidates are re-weighed every turn), so a text is
embedded once per :class:`SalienceInputs`; build a new one per turn with the
current transcript.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from engine.llm.base import ChatMessage
from engine.memory.service import MemoryService
from engine.memory.weight_ranking import heaviest_first, select_live
from engine.mind.gates import ExitDecision, ExitGate, negation_flip
from engine.mind.gut import Gut, GutReading
from engine.policy import Policy
from engine.policy.mind import AttentionSection

Vector = npt.NDArray[np.float32]
_CACHE_SIZE = 512


def active_goals(
    memory: MemoryService | None, transcript: Sequence[ChatMessage], policy: AttentionSection
) -> list[str]:
    """The active goals' texts (see the module docstring).

    Args:
        memory: where pinned and ``goal`` memories live (None: transcript only).
        transcript: the working transcript, oldest first.
        policy: ``attention`` (how many of each).

    Returns:
        Goal texts, the newest operator message first, then the memories.
    """
    n = policy.goal_recent_messages
    said = [m.content for m in reversed(transcript) if m.role == "user" and m.content.strip()]
    goals = said[:n] if n else []
    if memory is not None and policy.goal_memories:
        cache = memory.scoring  # ranked in memory; the contents of the chosen few after
        ids = heaviest_first(
            cache, select_live(cache, pinned_or_kinds=["goal"]), policy.goal_memories
        )
        if ids:
            contents = memory.repo.contents(ids)
            goals.extend(contents[i] for i in ids if i in contents)
    return goals


class SalienceInputs:
    """Novelty, relevance and charge for one turn."""

    def __init__(
        self,
        memory: MemoryService | None,
        gut_state: Gut | GutReading | None,
        transcript: Sequence[ChatMessage],
        policy: AttentionSection | None = None,
    ) -> None:
        """Gather the turn's goals.

        Args:
            memory: the memory service (None: novelty 1, relevance 0).
            gut_state: the gut (its latest reading is used) or a reading.
            transcript: the working transcript before this turn, oldest first.
            policy: ``attention`` (default: the memory service's policy).
        """
        self.memory = memory
        self.gut_state = gut_state
        if policy is None:
            policy = memory.policy.attention if memory is not None else None
        self.goals = active_goals(memory, transcript, policy) if policy is not None else []
        self._cache: OrderedDict[str, Vector] = OrderedDict()
        self._goal_matrix: Vector | None = None
        self._nearest: dict[str, tuple[int | None, float]] = {}

    def prime(self, texts: Sequence[str]) -> None:
        """Embed texts not yet cached in one batch (one embedder call instead of many).

        Args:
            texts: e.g. every pending candidate's text.
        """
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if self.memory is None or not missing:
            return
        for text, vec in zip(missing, self.memory.embed_texts(missing), strict=True):
            self._cache[text] = vec
        while len(self._cache) > max(_CACHE_SIZE, len(missing)):
            self._cache.popitem(last=False)

    def embed(self, text: str) -> Vector | None:
        """A text's unit embedding (cached), or None without memory."""
        if self.memory is None:
            return None
        if text not in self._cache:
            self.prime([text])
        return self._cache[text]

    def nearest(self, text: str) -> tuple[int | None, float]:
        """The nearest stored memory to a text and its cosine similarity (None, 0 if none).

        Remembered for the turn: attention and the exit gate ask about the same input,
        and nothing is minted between them (memories are written at the commit).
        """
        found = self._nearest.get(text)
        if found is None:
            found = self._nearest[text] = self._search_nearest(text)
        return found

    def _search_nearest(self, text: str) -> tuple[int | None, float]:
        vec = self.embed(text)
        if self.memory is None or vec is None or not len(self.memory.vectors):
            return None, 0.0
        if not np.any(vec):
            return None, 0.0
        return self.memory.nearest_cache.nearest(text, vec)

    def novelty(self, text: str) -> float:
        """``1 - max similarity`` to stored memories, in [0, 1] (1 when memory is empty)."""
        _, sim = self.nearest(text)
        return 1.0 - min(1.0, max(0.0, sim))

    def relevance(self, text: str) -> float:
        """The highest similarity to an active goal, in [0, 1] (0 with no goals)."""
        if not self.goals or self.memory is None:
            return 0.0
        vec = self.embed(text)
        if vec is None:
            return 0.0
        if self._goal_matrix is None:
            self.prime(self.goals)
            rows = [v for v in (self.embed(g) for g in self.goals) if v is not None]
            self._goal_matrix = np.vstack(rows).astype(np.float32)
        return min(1.0, max(0.0, float(np.max(self._goal_matrix @ vec))))

    def charge(self) -> float:
        """The latest gut charge (0 before any reading)."""
        reading = self.gut_state.last if isinstance(self.gut_state, Gut) else self.gut_state
        return 0.0 if reading is None else float(reading.charge)


def make_salience_inputs(
    memory: MemoryService | None,
    gut_state: Gut | GutReading | None,
    transcript: Sequence[ChatMessage],
    pending: Sequence[str] = (),
) -> tuple[Callable[[str], float], Callable[[str], float], Callable[[], float]]:
    """The ``(novelty, relevance, charge)`` callables :class:`~engine.mind.attention.Attention`
    takes, for one turn.

    Args:
        memory: the memory service (None: novelty 1, relevance 0).
        gut_state: the gut or its latest reading (None: charge 0).
        transcript: the working transcript before this turn, oldest first.
        pending: the candidates' texts, embedded up front in one batch (optional).

    Returns:
        novelty(text), relevance(text), charge().
    """
    inputs = SalienceInputs(memory, gut_state, transcript)
    inputs.prime([*pending, *inputs.goals])
    return inputs.novelty, inputs.relevance, inputs.charge


class ExitJudge:
    """Feeds the exit gate from memory: relevance, nearest memory, contradiction, charge."""

    def __init__(self, gate: ExitGate, inputs: SalienceInputs, policy: Policy) -> None:
        """Create the judge.

        Args:
            gate: the exit gate.
            inputs: this turn's salience inputs (goals, embeddings, gut).
            policy: the whole policy (``gates.exit.negation_min_overlap``).
        """
        self.gate = gate
        self.inputs = inputs
        self.min_overlap = policy.gates.exit.negation_min_overlap

    def __call__(self, content: object) -> ExitDecision:
        """Judge a text (or anything with ``.content``, e.g. a scratch item).

        Args:
            content: the text or an object holding it.

        Returns:
            The exit gate's decision, with the nearest memory as ``target_id``.
        """
        text = content if isinstance(content, str) else str(getattr(content, "content", ""))
        target, sim = self.inputs.nearest(text)
        contradicts = False
        if target is not None and self.inputs.memory is not None:
            near = self.inputs.memory.repo.contents([target]).get(target, "")
            contradicts = negation_flip(text, near, self.min_overlap)
        return self.gate.decide(
            self.inputs.relevance(text),
            max(0.0, sim),
            contradicts,
            charge=self.inputs.charge(),
            target_id=target,
        )
