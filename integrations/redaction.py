"""Keep secrets out of captured exchanges, results, error messages and logs.

Two nets, both applied to everything the outbound layer records:

- by name: header names (``Authorization``, ``Y-Api-Token``, ``Cookie``, ...)
  and body/query keys (``client_secret``, ``access_token``, ``seed``, ...)
  whose values are replaced with ``[REDACTED]``;
- by value: every credential value of the endpoint (and every value the name
  net caught, such as an access token a token endpoint just issued) is
  searched for anywhere in the text and replaced, in its plain, URL-encoded
  and JSON-escaped spellings.

Values shorter than ``MIN_SECRET_LENGTH`` are not searched for by value:
replacing every "1" or "ok" would destroy the record while protecting nothing
worth the name; the name net still covers them.

``SecretRedactingFilter`` is a logging filter that applies the value net with
every secret registered in this process (``register_secrets``); attach it to
the handlers in ``LOGGING`` as defence in depth. The outbound layer itself
only ever logs redacted text.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit, urlunsplit

REDACTED = "[REDACTED]"
MIN_SECRET_LENGTH = 4

SENSITIVE_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "y-api-token",
        "y-api-key",
        "x-api-key",
        "api-key",
        "x-auth-token",
        "x-access-token",
        "private-token",
    }
)

# Keys whose values are secrets wherever they appear (JSON, form, query).
SENSITIVE_KEYS = frozenset(
    {
        "client_secret",
        "access_token",
        "refresh_token",
        "id_token",
        "token",
        "api_token",
        "api_key",
        "apikey",
        "secret",
        "password",
        "passwd",
        "seed",
        "private_key",
        # Pay2Slay fixture hook: the p2s_session cookie value it hands out.
        "cookie_value",
        "cookie",
        "authorization",
    }
)

# Keys that are secrets only in form bodies and query strings: there ``code``
# is an OAuth authorization code (exchangeable for a token), while in JSON
# bodies ``code`` is an error number or name worth keeping (Discord, GitHub).
FORM_ONLY_SENSITIVE_KEYS = frozenset({"code"})

_FORM_KEYS = SENSITIVE_KEYS | FORM_ONLY_SENSITIVE_KEYS
_KEY_ALTERNATION = "|".join(sorted(map(re.escape, SENSITIVE_KEYS), key=len)[::-1])
_FORM_ALTERNATION = "|".join(sorted(map(re.escape, _FORM_KEYS), key=len)[::-1])
# "key": "value" inside JSON-looking text that could not be parsed (truncated).
_JSON_PAIR = re.compile(
    rf'("(?:{_KEY_ALTERNATION})"\s*:\s*)"(?:[^"\\]|\\.)*"', re.IGNORECASE
)
# key=value in form-encoded text.
_FORM_PAIR = re.compile(rf"(?<![\w.-])((?:{_FORM_ALTERNATION})=)[^&\s]*", re.IGNORECASE)


def _spellings(value: str) -> set[str]:
    return {value, quote(value, safe=""), quote_plus(value), json.dumps(value)[1:-1]}


def secret_values(data: Any) -> frozenset[str]:
    """Every string (and number) leaf of ``data`` long enough to search for,
    in each spelling it may take on the wire."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, Mapping):
            for item in node.values():
                walk(item)
        elif isinstance(node, list | tuple | set | frozenset):
            for item in node:
                walk(item)
        elif isinstance(node, str | int) and not isinstance(node, bool):
            text = str(node)
            if len(text) >= MIN_SECRET_LENGTH:
                found.update(s for s in _spellings(text) if len(s) >= MIN_SECRET_LENGTH)

    walk(data)
    return frozenset(found)


@lru_cache(maxsize=512)
def _pattern(secrets: frozenset[str]) -> re.Pattern[str] | None:
    if not secrets:
        return None
    # Longest first, so a secret that contains another is replaced whole.
    ordered = sorted(secrets, key=len, reverse=True)
    return re.compile("|".join(map(re.escape, ordered)))


def redact_text(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of every secret replaced by [REDACTED].

    ``secrets`` are raw values; short ones are ignored (see module docstring).
    """
    if not text:
        return text
    values = secrets if isinstance(secrets, frozenset) else secret_values(list(secrets))
    pattern = _pattern(values)
    return pattern.sub(REDACTED, text) if pattern else text


def redact_key_pairs(text: str) -> str:
    """Redact ``"secret_key": "..."`` and ``secret_key=...`` pairs in free text."""
    if not text:
        return text
    text = _JSON_PAIR.sub(rf'\1"{REDACTED}"', text)
    return _FORM_PAIR.sub(rf"\1{REDACTED}", text)


class Redactor:
    """The redaction state of one outbound client: the endpoint's secrets plus
    those learned while running (values the name net caught)."""

    def __init__(self, secrets: frozenset[str] = frozenset()) -> None:
        self._secrets = secrets
        self._lock = threading.Lock()

    @property
    def secrets(self) -> frozenset[str]:
        return self._secrets

    def learn(self, value: Any) -> None:
        """Treat ``value`` as a secret from now on (e.g. an issued token)."""
        new = secret_values([value])
        if new and not new <= self._secrets:
            # Kept per client, not in the process-wide registry: issued
            # tokens would otherwise pile up there for the life of the worker.
            with self._lock:
                self._secrets = self._secrets | new

    def text(self, text: str) -> str:
        return redact_text(redact_key_pairs(text), self._secrets)

    def headers(self, headers: Mapping[str, Any] | None) -> dict[str, str]:
        result: dict[str, str] = {}
        for name, value in (headers or {}).items():
            if name.lower() in SENSITIVE_HEADERS:
                text = str(value)
                # Keep the scheme ("Bearer", "Basic", "Bot"): it helps debugging
                # and is no secret.
                scheme, _, rest = text.partition(" ")
                if name.lower() in ("authorization", "proxy-authorization") and rest:
                    self.learn(rest)
                    result[name] = f"{scheme} {REDACTED}"
                else:
                    self.learn(text)
                    result[name] = REDACTED
            else:
                result[name] = redact_text(str(value), self._secrets)
        return result

    def data(self, node: Any, *, form: bool = False) -> Any:
        """A copy of a JSON-like structure with secret keys and values redacted."""
        keys = _FORM_KEYS if form else SENSITIVE_KEYS
        if isinstance(node, Mapping):
            result = {}
            for key, value in node.items():
                if str(key).lower() in keys and isinstance(value, str | int | float):
                    if not isinstance(value, bool):
                        self.learn(value)
                    result[key] = REDACTED
                else:
                    result[key] = self.data(value, form=form)
            return result
        if isinstance(node, list | tuple):
            return [self.data(item, form=form) for item in node]
        if isinstance(node, str):
            return redact_text(node, self._secrets)
        return node

    def form(self, text: str) -> str:
        """Form-encoded text (a body or a query string) with secrets redacted."""
        pairs = parse_qsl(text, keep_blank_values=True)
        if not pairs:
            return self.text(text)
        for key, value in pairs:
            if key.lower() in _FORM_KEYS:
                self.learn(value)
        cleaned = [
            (key, REDACTED if key.lower() in _FORM_KEYS else value)
            for key, value in pairs
        ]
        return redact_text(urlencode(cleaned, safe="[]"), self._secrets)

    def url(self, url: str) -> str:
        # Values first: a secret pasted unencoded into a query would otherwise
        # be cut into pieces by the parser before the value net sees it.
        parts = urlsplit(redact_text(url, self._secrets))
        query = self.form(parts.query) if parts.query else ""
        netloc = parts.netloc
        if "@" in netloc:  # user:password@host
            netloc = f"{REDACTED}@{netloc.rpartition('@')[2]}"
        cleaned = urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
        return redact_text(cleaned, self._secrets)

    def body(self, body: bytes | str | None, content_type: str, limit: int) -> Any:
        """A captured body: parsed JSON when it is small JSON, otherwise text
        cut at ``limit`` characters; secrets redacted either way."""
        if body is None or body == b"" or body == "":
            return None
        clipped_bytes = 0
        if isinstance(body, bytes):
            # Decode no more than could fill ``limit`` characters.
            text = body[: limit * 4].decode("utf-8", errors="replace")
            clipped_bytes = max(len(body) - limit * 4, 0)
        else:
            text = body
        total = len(text)
        content_type = (content_type or "").lower()
        if (
            not clipped_bytes
            and total <= limit
            and ("json" in content_type or text[:1] in "{[")
        ):
            try:
                return self.data(json.loads(text))
            except ValueError:
                pass
        if (
            "x-www-form-urlencoded" in content_type
            and not clipped_bytes
            and total <= limit
        ):
            return self.form(text)
        # Redact before cutting: a secret straddling the cut would otherwise
        # leave its first characters behind.
        cleaned = self.text(text)
        if clipped_bytes:
            return cleaned[:limit] + f"…[truncated, {len(body)} bytes in all]"
        if len(cleaned) > limit:
            extra = len(cleaned) - limit
            return cleaned[:limit] + f"…[truncated, {extra} more characters]"
        return cleaned


# -- process-wide registry for the logging filter -------------------------------

_registered: frozenset[str] = frozenset()
_registry_lock = threading.Lock()


def register_secrets(values: Iterable[str]) -> None:
    """Add ``values`` (spellings included) to what ``SecretRedactingFilter``
    removes from log records in this process."""
    global _registered
    new = values if isinstance(values, frozenset) else secret_values(list(values))
    if new <= _registered:
        return
    with _registry_lock:
        _registered = _registered | new


def registered_secrets() -> frozenset[str]:
    return _registered


class SecretRedactingFilter(logging.Filter):
    """Redact secret key/value pairs and every registered secret in a log
    record's message and traceback.

    Attach to handlers (``LOGGING["handlers"][...]["filters"]``): a filter on a
    logger does not see records propagated from its children.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = _registered
        message = record.getMessage()
        cleaned = redact_text(redact_key_pairs(message), secrets)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[0] is not None and secrets:
            # A formatter prints exc_text, once set, instead of re-formatting.
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact_text(text, secrets)
        return True


# Loggers of libraries that write request URLs (query strings included) into
# their records: urllib3 logs every request line at DEBUG.
LEAKY_LOGGERS = ("urllib3.connectionpool",)


def install_log_redaction() -> None:
    """Put ``SecretRedactingFilter`` on the loggers known to log URLs."""
    for name in LEAKY_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, SecretRedactingFilter) for f in logger.filters):
            logger.addFilter(SecretRedactingFilter())
