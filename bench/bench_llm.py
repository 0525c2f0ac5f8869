"""Benchmark the embedded LLM: assembly, load, prefill/decode speed, TTFT, tool-call validity.

Run: ``.venv/bin/python bench/bench_llm.py [--model-dir DIR] [--threads 2]``

Prints numbers; it is not a test and asserts nothing. The GGUF is assembled
into ``--model-dir`` (default: the pytest cache dir the model tests use), so
a second run reuses it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.llm.base import (  # noqa: E402
    ChatMessage,
    ChatOptions,
    ChatRequest,
    ChatResult,
    ToolChoice,
    ToolMode,
    ToolSpec,
)
from engine.llm.envelope import ToolCallEnvelope  # noqa: E402
from engine.llm.local import LoadState, LocalProvider  # noqa: E402
from engine.llm.model_files import (  # noqa: E402
    embedded_model_path,
    ensure_embedded_model,
    is_valid_model_file,
)

DEFAULT_MODEL_DIR = ROOT / ".pytest_cache" / "d" / "cephalon-embedded-model"
WARM_TTFT_TARGET_MS = 5000.0


def _tool(name: str, description: str, properties: dict[str, str], required: list[str]) -> ToolSpec:
    schema = {
        "type": "object",
        "properties": {key: {"type": kind} for key, kind in properties.items()},
        "required": required,
    }
    return ToolSpec(name=name, description=description, parameters=schema)


TOOLS = [
    _tool("memory.search", "Search what the user told you in earlier conversations.",
          {"query": "string", "limit": "integer"}, ["query"]),
    _tool("memory.write", "Save a fact the user asks you to remember.",
          {"text": "string"}, ["text"]),
    _tool("clock.now", "Get the current date and time.", {}, []),
    _tool("timer.set", "Start a countdown timer.", {"minutes": "number", "label": "string"},
          ["minutes"]),
    _tool("calendar.add", "Add an event to the user's calendar.",
          {"title": "string", "when": "string"}, ["title", "when"]),
    _tool("web.fetch", "Download a web page and return its text.", {"url": "string"}, ["url"]),
    _tool("note.append", "Append a line to today's daily note.", {"text": "string"}, ["text"]),
    _tool("discord.post", "Post a message to a Discord channel.",
          {"channel": "string", "text": "string"}, ["channel", "text"]),
]

TOOL_PROMPTS: list[tuple[str, set[str]]] = [
    ("What did I tell you about my sister's birthday?", {"memory.search"}),
    ("Remember that my dentist appointment is on Friday at 3pm.", {"memory.write", "calendar.add"}),
    ("What time is it right now?", {"clock.now"}),
    ("Set a timer for 25 minutes for my pomodoro.", {"timer.set"}),
    ("Add 'team standup' to my calendar for tomorrow at 9:30.", {"calendar.add"}),
    ("Fetch https://example.com/status and tell me what it says.", {"web.fetch"}),
    ("Post 'deploy finished' to the #ops channel on Discord.", {"discord.post"}),
    ("Which restaurant did I say I liked last month?", {"memory.search"}),
    ("Save this: the wifi password at the cabin is pinecone42.", {"memory.write"}),
    ("Jot down in today's note that the backup job failed twice.", {"note.append"}),
    ("Did I ever mention the name of my landlord?", {"memory.search"}),
    ("What's today's date?", {"clock.now"}),
    ("Remind me in 10 minutes to take the bread out.", {"timer.set"}),
    ("Put 'dinner with Sam' on the calendar for Saturday 7pm.", {"calendar.add"}),
    ("Look up https://news.ycombinator.com and summarize the top story.", {"web.fetch"}),
    ("Tell the #general channel on Discord that the server restarts at noon.", {"discord.post"}),
    ("Do you remember what book I was reading?", {"memory.search"}),
    ("Please remember that I'm allergic to penicillin.", {"memory.write"}),
    ("Add to the daily note: finished the quarterly report.", {"note.append"}),
    ("What were my thoughts on the new project proposal last week?", {"memory.search"}),
]
CHAT_PROMPTS = [
    "Hi! How are you?",
    "Write a haiku about rain.",
    "What is 17 times 3?",
    "Explain what a mutex is in one sentence.",
    "Thanks, that's all for now.",
]

SYSTEM = """You are Cephalon, an always-on assistant that lives in the operator's terminal.
You are calm, precise and brief. You do not remember earlier conversations by yourself:
what the operator told you before is only available through memory.search, and you have
no clock except clock.now. Never invent facts about the operator.

Operator profile (from the identity file):
- Name: the operator. Works as a site reliability engineer on a small infrastructure team.
- Prefers short answers, metric units, 24-hour times, and plain language.
- Runs Cephalon on a home server over SSH; the TUI shows your attention and tool calls.
- Cares about: uptime of the home lab, the weekly backup job, reading, cooking, running.

Current state report:
- Attention: operator message (urgency medium); idle thoughts suppressed while chatting.
- Mood (gut): steady; no open alarms; last janitor run found 3 duplicate memories.
- Pending jobs: daily note at 21:00, consolidation at 03:00, janitor report on Sunday.

Rules:
1. Use a tool whenever the answer depends on something you cannot see here.
2. Ask before posting to Discord on the operator's behalf unless told to.
3. Keep replies under three sentences unless asked for more."""


@dataclass
class ModeStats:
    """Tool-call results of one mode over the prompt set."""

    valid_calls: int = 0
    right_tool: int = 0
    repaired: int = 0
    messages_on_chat: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def args_valid(args: dict[str, Any], schema: dict[str, Any]) -> bool:
    """A small JSON-schema check: required keys present, declared types right."""
    types = {"string": str, "integer": int, "number": (int, float), "boolean": bool,
             "object": dict, "array": list}
    properties = schema.get("properties", {})
    if any(key not in args for key in schema.get("required", [])):
        return False
    for key, value in args.items():
        expected = types.get(properties.get(key, {}).get("type", ""), object)
        if key in properties and not isinstance(value, expected):
            return False
    return True


def request_for(prompt: str, mode: ToolMode, choice: ToolChoice, max_tokens: int) -> ChatRequest:
    return ChatRequest(
        messages=[ChatMessage(role="system", content=SYSTEM),
                  ChatMessage(role="user", content=prompt)],
        tools=TOOLS,
        tool_mode=mode,
        tool_choice=choice,
        options=ChatOptions(max_tokens=max_tokens, temperature=0.0, timeout_s=300),
    )


def run_mode(provider: LocalProvider, mode: ToolMode, choice: ToolChoice) -> ModeStats:
    stats = ModeStats()
    by_name = {tool.name: tool for tool in TOOLS}
    for prompt, expected in TOOL_PROMPTS:
        result = provider.chat(request_for(prompt, mode, choice, 96))
        stats.latencies_ms.append(result.timings.total_ms)
        envelope = result.envelope
        if isinstance(envelope, ToolCallEnvelope) and args_valid(
            envelope.args, by_name[envelope.name].parameters
        ):
            stats.valid_calls += 1
            stats.right_tool += envelope.name in expected
            stats.repaired += bool(result.repairs)
        else:
            what = envelope.type if envelope else f"error: {result.envelope_error}"
            stats.failures.append(f"{prompt[:40]!r} -> {what}")
    if choice != "required":
        for prompt in CHAT_PROMPTS:
            result = provider.chat(request_for(prompt, mode, choice, 64))
            envelope = result.envelope
            stats.messages_on_chat += envelope is not None and envelope.type == "message"
    return stats


def turn(provider: LocalProvider, messages: list[ChatMessage]) -> ChatResult:
    request = ChatRequest(
        messages=messages, options=ChatOptions(max_tokens=48, temperature=0.0, timeout_s=300)
    )
    return provider.chat(request)


def bench_latency(provider: LocalProvider) -> None:
    history = [ChatMessage(role="system", content=SYSTEM),
               ChatMessage(role="user", content="Good morning. Anything I should know today?")]
    cold = turn(provider, history)
    history += [ChatMessage(role="assistant", content=cold.text),
                ChatMessage(role="user", content="Thanks. Summarize that in five words.")]
    warm = turn(provider, history)
    for label, result in (("cold turn 1", cold), ("warm turn 2", warm)):
        timings, usage = result.timings, result.usage
        print(f"{label}: ttft {timings.ttft_ms or 0:.0f} ms, total {timings.total_ms:.0f} ms, "
              f"prompt {usage.tokens_in} tok ({usage.cached_tokens or 0} cached), "
              f"out {usage.tokens_out} tok, prefill {timings.prefill_tok_s or 0:.1f} tok/s, "
              f"decode {timings.decode_tok_s or 0:.1f} tok/s")
    verdict = "OK" if (warm.timings.ttft_ms or 1e9) <= WARM_TTFT_TARGET_MS else "OVER TARGET"
    print(f"warm TTFT target <= {WARM_TTFT_TARGET_MS:.0f} ms: {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--n-ctx", type=int, default=4096)
    parser.add_argument("--skip-tools", action="store_true", help="only speed and TTFT")
    options = parser.parse_args()

    path = embedded_model_path(options.model_dir)
    started = time.monotonic()
    already = is_valid_model_file(path, verify_hash=False)
    path = ensure_embedded_model(options.model_dir, verify_hash=True)
    action = "verified (sha256) existing file" if already else "assembled"
    print(f"model file: {path} ({path.stat().st_size / 1e9:.2f} GB), "
          f"{action} in {time.monotonic() - started:.1f} s")

    provider = LocalProvider(path, n_threads=options.threads, n_ctx=options.n_ctx)
    if provider.wait_ready(300) is not LoadState.READY:
        raise SystemExit(f"load failed: {provider.status()}")
    print(f"load: {provider.status().load_s:.1f} s (threads={options.threads}, "
          f"n_ctx={options.n_ctx})")
    bench_latency(provider)
    if not options.skip_tools:
        print(f"\ntool calls over {len(TOOL_PROMPTS)} prompts ({len(TOOLS)} tools), "
              f"plus {len(CHAT_PROMPTS)} chat prompts for the auto modes:")
        modes: list[tuple[str, ToolMode, ToolChoice]] = [
            ("auto (hybrid: template decides, botched calls redone under schema)", "auto", "auto"),
            ("constrained, tool_choice=required", "constrained", "required"),
            ("constrained, tool_choice=auto", "constrained", "auto"),
            ("unconstrained: native template + repair", "native", "auto"),
            ("unconstrained: envelope prompt + repair", "prompted", "auto"),
        ]
        for label, mode, choice in modes:
            stats = run_mode(provider, mode, choice)
            total = len(TOOL_PROMPTS)
            chat = (f", chat->message {stats.messages_on_chat}/{len(CHAT_PROMPTS)}"
                    if choice != "required" else "")
            rate = 100 * stats.valid_calls / total
            print(f"- {label}:\n    valid tool calls {stats.valid_calls}/{total} ({rate:.0f}%), "
                  f"right tool {stats.right_tool}/{total}, needed repair {stats.repaired}{chat}, "
                  f"median latency {statistics.median(stats.latencies_ms):.0f} ms")
            for failure in stats.failures[:3]:
                print(f"    e.g. {failure}")
    provider.close()


if __name__ == "__main__":
    main()
