"""Tools: the registry (schemas, scopes), the runtime (checks, timeouts, retries,
breakers, budgets, idempotency) and the built-in tools."""

from engine.tools.builtin import register_builtin_tools
from engine.tools.registry import Scope, SourceTag, ToolContext, ToolRegistry, ToolSpec
from engine.tools.runtime import ToolOutcome, ToolRuntime

__all__ = [
    "Scope",
    "SourceTag",
    "ToolContext",
    "ToolOutcome",
    "ToolRegistry",
    "ToolRuntime",
    "ToolSpec",
    "register_builtin_tools",
]
