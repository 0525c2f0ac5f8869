"""HTTP plumbing shared by the Ollama and OpenAI-compatible clients.

Status codes and transport failures map onto the typed errors of
:mod:`engine.llm.errors`; every message that leaves this module has the API
key replaced by ``***`` first.
"""

from __future__ import annotations

import json
import os
from collections.abc import Generator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from engine.llm.errors import (
    MalformedResponse,
    ProviderError,
    ProviderHTTPError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
)

ERROR_BODY_CHARS = 300
CONNECT_TIMEOUT_S = 10.0
REDACTED = "***"


def read_api_key(env_var: str | None) -> str | None:
    """Read an API key from the named environment variable.

    Args:
        env_var: the variable's name (from config); None means "no key".

    Returns:
        The key, or None when the variable is unset or empty.
    """
    if not env_var:
        return None
    return os.environ.get(env_var) or None


def auth_headers(api_key: str | None) -> dict[str, str]:
    """The Bearer header for a key (empty when there is none).

    Args:
        api_key: the key, or None.

    Returns:
        Headers to send; never log them.
    """
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


def redact(text: str, secret: str | None) -> str:
    """Replace every occurrence of a secret in a text.

    Args:
        text: any text that may echo the secret.
        secret: the secret, or None.

    Returns:
        The text with the secret replaced by ``***``.
    """
    if secret and len(secret) >= 4:
        return text.replace(secret, REDACTED)
    return text


def request_timeout(remaining_s: float) -> httpx.Timeout:
    """The httpx timeout for a call with ``remaining_s`` left before its deadline.

    Args:
        remaining_s: seconds left.

    Returns:
        A timeout whose read limit (the gap between two chunks) is the time left.
    """
    remaining = max(0.001, remaining_s)
    return httpx.Timeout(remaining, connect=min(CONNECT_TIMEOUT_S, remaining))


def parse_retry_after(value: str | None) -> float | None:
    """Parse a Retry-After header (seconds, or an HTTP date).

    Args:
        value: the header value, or None.

    Returns:
        Seconds to wait (>= 0), or None when absent or unreadable.
    """
    if not value:
        return None
    try:
        return max(0.0, float(value.strip()))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def error_from_status(
    provider: str, status: int, body: str, headers: httpx.Headers, secret: str | None
) -> ProviderError:
    """Map a non-success HTTP response onto a typed error.

    Args:
        provider: the provider's name.
        status: the HTTP status.
        body: the response body (will be shortened and redacted).
        headers: the response headers (for Retry-After).
        secret: the API key to redact from the message.

    Returns:
        RateLimited for 429; ProviderUnavailable for a missing model (404
        mentioning the model); ProviderHTTPError otherwise.
    """
    detail = redact(_error_detail(body), secret)
    message = f"HTTP {status}: {detail}" if detail else f"HTTP {status}"
    if status == 429:
        retry_after = parse_retry_after(headers.get("retry-after"))
        return RateLimited(message, provider, retry_after_s=retry_after)
    if status == 404 and "model" in detail.lower():
        return ProviderUnavailable(f"model not available: {message}", provider)
    return ProviderHTTPError(message, provider, status=status)


def error_from_transport(provider: str, exc: httpx.TransportError) -> ProviderError:
    """Map an httpx transport failure onto a typed error.

    Args:
        provider: the provider's name.
        exc: the httpx exception.

    Returns:
        ProviderUnavailable for connect failures and dropped connections,
        ProviderTimeout for read/write/pool timeouts.
    """
    if isinstance(exc, httpx.ConnectTimeout | httpx.ConnectError):
        return ProviderUnavailable(f"cannot connect: {type(exc).__name__}", provider)
    if isinstance(exc, httpx.TimeoutException):
        return ProviderTimeout(f"timed out: {type(exc).__name__}", provider)
    return ProviderUnavailable(f"connection lost: {type(exc).__name__}", provider)


def load_json_line(provider: str, line: str, secret: str | None) -> dict[str, object]:
    """Decode one streamed JSON object (an SSE data payload or an NDJSON line).

    Args:
        provider: the provider's name.
        line: the JSON text.
        secret: the API key to redact from the error.

    Returns:
        The decoded object.

    Raises:
        MalformedResponse: the line is not a JSON object.
    """
    try:
        value = json.loads(line)
    except json.JSONDecodeError as exc:
        preview = redact(line[:80], secret)
        raise MalformedResponse(f"bad JSON in stream ({exc.msg}): {preview!r}", provider) from None
    if not isinstance(value, dict):
        raise MalformedResponse(f"expected a JSON object in stream, got {line[:80]!r}", provider)
    return value


def _error_detail(body: str) -> str:
    text = body.strip()
    try:
        data = json.loads(text)
    except ValueError:
        return text[:ERROR_BODY_CHARS]
    if isinstance(data, dict):
        error = data.get("error", data)
        if isinstance(error, dict):
            error = error.get("message", error)
        return str(error)[:ERROR_BODY_CHARS]
    return text[:ERROR_BODY_CHARS]


def stream_lines(
    client: httpx.Client,
    url: str,
    body: dict[str, object],
    headers: dict[str, str],
    remaining_s: float,
    provider: str,
    secret: str | None,
) -> Generator[tuple[str, str], None, None]:
    """POST a JSON body and yield the response's lines as they arrive.

    Args:
        client: the httpx client.
        url: the endpoint.
        body: the JSON body.
        headers: extra headers (the Authorization header included).
        remaining_s: seconds left before the call's deadline.
        provider: the provider's name, for errors.
        secret: the API key, redacted from every error.

    Yields:
        ``(content_type, line)`` pairs; closing the generator closes the response.

    Raises:
        ProviderError: the mapped status or transport failure.
    """
    try:
        with client.stream(
            "POST", url, json=body, headers=headers, timeout=request_timeout(remaining_s)
        ) as response:
            if response.status_code >= 400:
                response.read()
                raise error_from_status(
                    provider, response.status_code, response.text, response.headers, secret
                )
            content_type = response.headers.get("content-type", "")
            for line in response.iter_lines():
                yield content_type, line
    except httpx.DecodingError as exc:
        raise MalformedResponse(f"undecodable response body: {exc}", provider) from None
    except httpx.TransportError as exc:
        raise error_from_transport(provider, exc) from None
    except httpx.RequestError as exc:
        raise ProviderUnavailable(f"request failed: {type(exc).__name__}", provider) from None


class HttpProviderBase:
    """What the HTTP providers share: their URL, model, name, key source and client."""

    def __init__(
        self,
        url: str,
        model: str,
        *,
        api_key_env: str | None,
        name: str,
        client: httpx.Client | None,
    ) -> None:
        """Hold the connection settings.

        Args:
            url: the full endpoint URL.
            model: the model to request.
            api_key_env: name of the environment variable holding the API key.
            name: the provider's name in results, errors and the turn record.
            client: an httpx client to reuse (then not closed by this provider).
        """
        self._url = url
        self._model = model
        self._api_key_env = api_key_env
        self._name = name
        self._owns_client = client is None
        self._client = client or httpx.Client()

    @property
    def name(self) -> str:
        """The provider's configured name."""
        return self._name

    @property
    def model(self) -> str:
        """The requested model."""
        return self._model

    def __repr__(self) -> str:
        return f"{type(self).__name__}(url={self._url!r}, model={self._model!r})"

    def close(self) -> None:
        """Close the HTTP client if this provider created it."""
        if self._owns_client:
            self._client.close()
