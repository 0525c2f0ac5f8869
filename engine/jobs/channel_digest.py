"""A short digest of a channel's recent messages: topics, people, and a summary text.

The extractive part is deterministic (keyword document frequency for topics,
message counts for people) and always computed; when a provider is given, the
model writes the prose from a small prompt (``data/prompts/channel_summary.md``)
and the extractive lines are kept under it.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.channels.base import ChannelMessage
from engine.llm.base import ChatMessage, ChatOptions, ChatRequest, ChatResult, Provider
from engine.policy.runtime import DiscordSummary

PROMPT_PATH = Path(__file__).resolve().parents[2] / "data" / "prompts" / "channel_summary.md"

_NOISE = re.compile(r"https?://\S+|<[@#:!&a-zA-Z0-9_]+>|`[^`]*`")
_WORD = re.compile(r"[a-z][a-z0-9_'-]+[a-z0-9]")
_STOPWORD_TEXT = """
    about above after again against back all also and any are aren't because been before being
    below between both but can can't cannot could couldn't did didn't does doesn't doing
    don't down during each few for from further get got had hadn't has hasn't have haven't
    having her here hers herself him himself his how i'd i'll i'm i've into isn't it's its
    itself just let's like maybe more most much must mustn't myself nor not now off once
    one only other ought our ours ourselves out over own really same she she'd she'll
    she's should shouldn't some still such than that that's the their theirs them
    themselves then there there's these they they'd they'll they're they've thing things
    think this those through too under until very was wasn't we'd we'll we're we've were
    weren't what what's when when's where where's which while who who's whom why why's
    will with won't would wouldn't yeah yes you you'd you'll you're you've your yours
    yourself yourselves lol okay thanks thank going want know see yep nope gonna wanna
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
"""Words never counted as topics."""


@dataclass(frozen=True)
class Digest:
    """What a summary says and is made of."""

    text: str
    topics: list[dict[str, Any]]
    users: list[dict[str, Any]]
    message_count: int
    source: str
    """``llm`` or ``extractive``."""
    llm_result: ChatResult | None = None
    errors: list[str] = field(default_factory=list)


def _words(text: str) -> set[str]:
    cleaned = _NOISE.sub(" ", text.lower())
    words = {w[:-2] if w.endswith("'s") else w for w in _WORD.findall(cleaned)}
    return {w for w in words if len(w) > 2 and w not in STOPWORDS and not w.isdigit()}


def active_topics(messages: list[ChannelMessage], count: int) -> list[dict[str, Any]]:
    """The words most messages mention (each message counts a word once).

    Args:
        messages: the messages.
        count: how many topics.

    Returns:
        ``{"topic", "messages"}`` dicts, most mentioned first (ties alphabetical);
        words in a single message only are not topics.
    """
    freq: Counter[str] = Counter()
    for message in messages:
        freq.update(_words(message.content))
    ranked = sorted(((n, w) for w, n in freq.items() if n >= 2), key=lambda p: (-p[0], p[1]))
    return [{"topic": word, "messages": n} for n, word in ranked[:count]]


def notable_users(messages: list[ChannelMessage], count: int) -> list[dict[str, Any]]:
    """The people who wrote the most messages.

    Args:
        messages: the messages.
        count: how many people.

    Returns:
        ``{"id", "name", "messages", "bot"}`` dicts, most active first (ties by name).
    """
    counts: Counter[str] = Counter(m.author_id for m in messages)
    names = {m.author_id: (m.author_name, m.author_is_bot) for m in messages}
    ranked = sorted(counts.items(), key=lambda item: (-item[1], names[item[0]][0]))
    return [
        {"id": uid, "name": names[uid][0], "messages": n, "bot": names[uid][1]}
        for uid, n in ranked[:count]
    ]


def _window(messages: list[ChannelMessage]) -> str:
    first, last = min(m.ts for m in messages), max(m.ts for m in messages)
    if first.date() == last.date():
        return f"{first:%Y-%m-%d %H:%M}-{last:%H:%M} UTC"
    return f"{first:%Y-%m-%d %H:%M} - {last:%Y-%m-%d %H:%M} UTC"


def transcript(messages: list[ChannelMessage], max_chars: int) -> str:
    """The newest messages that fit in ``max_chars``, oldest first, as ``name: text`` lines."""
    lines: list[str] = []
    used = 0
    for message in sorted(messages, key=lambda m: m.ts, reverse=True):
        line = f"{message.author_name}: {' '.join(message.content.split())}"
        if used + len(line) + 1 > max_chars:
            break
        lines.append(line)
        used += len(line) + 1
    return "\n".join(reversed(lines))


def _ask_model(
    provider: Provider,
    channel_name: str,
    messages: list[ChannelMessage],
    policy: DiscordSummary,
    temperature: float,
    timeout_s: float,
) -> ChatResult:
    request = ChatRequest(
        messages=[
            ChatMessage(role="system", content=PROMPT_PATH.read_text(encoding="utf-8")),
            ChatMessage(
                role="user",
                content=f"Channel #{channel_name}:\n{transcript(messages, policy.max_input_chars)}",
            ),
        ],
        options=ChatOptions(
            temperature=temperature, max_tokens=policy.max_output_tokens, timeout_s=timeout_s
        ),
    )
    return provider.chat(request)


def _fit(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 1, 0)].rstrip() + "…"


def build_digest(
    channel_name: str,
    messages: list[ChannelMessage],
    policy: DiscordSummary,
    *,
    provider: Provider | None = None,
    temperature: float = 0.0,
    timeout_s: float = 60.0,
) -> Digest:
    """Summarize messages; the model writes the prose when a provider is given and works.

    Args:
        channel_name: the channel's name (shown in the text).
        messages: the messages (any order; the agent's own should be left out).
        policy: ``discord.summary``.
        provider: the LLM, or None for the extractive summary only.
        temperature: sampling temperature for the model.
        timeout_s: the model call's deadline.

    Returns:
        The digest; ``errors`` says why the model was not used, if it failed.
    """
    topics = active_topics(messages, policy.topics)
    users = notable_users(messages, policy.users)
    people = len({m.author_id for m in messages})
    head = f"**#{channel_name} summary** ({len(messages)} messages, {_window(messages)})"
    prose = f"{len(messages)} messages from {people} {'person' if people == 1 else 'people'}."
    source, result, errors = "extractive", None, []
    if provider is not None:
        try:
            result = _ask_model(provider, channel_name, messages, policy, temperature, timeout_s)
        except Exception as exc:  # a summary without the model beats no summary
            errors.append(f"{type(exc).__name__}: {exc}")
        else:
            text = " ".join(result.text.split())
            if text:
                prose, source = text.replace("@", "@\u200b"), "llm"
            else:
                errors.append("the model returned no text")
    topic_line = "Topics: " + (", ".join(t["topic"] for t in topics) or "none stood out")
    user_line = "Active: " + ", ".join(
        f"{u['name']} ({'bot, ' if u['bot'] else ''}{u['messages']})" for u in users
    )
    tail = f"\n{topic_line}\n{user_line}"
    body_room = policy.max_chars - len(head) - len(tail) - 1
    text = _fit(f"{head}\n{_fit(prose, max(body_room, 0))}{tail}", policy.max_chars)
    return Digest(text, topics, users, len(messages), source, result, errors)
