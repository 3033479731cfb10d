"""Policy text: the characters IAM allows, and how user text is echoed in messages."""

from __future__ import annotations

import re
import unicodedata
from typing import Any, Final

#: Characters IAM forbids in policy text: all but tab, LF, CR and U+0020-U+00FF.
FORBIDDEN: Final = re.compile(r"[^\t\n\r\x20-\xff]")
NON_ASCII: Final = re.compile(r"[^\x00-\x7f]")
#: Longest user text echoed back in a message.
_ECHO: Final = 80


def forbidden_char(text: str) -> str | None:
    """Why ``text`` cannot be in an IAM policy (its first forbidden character), or ``None``."""
    match = FORBIDDEN.search(text)
    if match is None:
        return None
    return (
        f"contains {describe_char(match.group())}, which IAM does not allow in a policy "
        "(only tab, line feed, carriage return and U+0020 to U+00FF)"
    )


def plain(value: Any) -> Any:
    """A copy of parsed JSON made of plain dicts and lists."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def kind(value: object) -> str:
    """What a JSON value is, in words (``a string``, ``an object``, ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return f"a value of type {type(value).__name__}"


def shorten(text: str) -> str:
    """User text as echoed in messages: long text is cut, saying how long it was."""
    return text if len(text) <= _ECHO else f"{text[:_ECHO]}... ({len(text)} characters)"


def quote(value: object) -> str:
    """``repr`` of a user value for messages, long strings shortened."""
    if isinstance(value, str) and len(value) > _ECHO:
        return f"{value[:_ECHO]!r}... ({len(value)} characters)"
    return repr(value)


def describe_char(char: str) -> str:
    """A character with its code point and Unicode name, e.g. ``'\\u0430' (U+0430 ...)``."""
    name = unicodedata.name(char, "")
    return f"{char!r} (U+{ord(char):04X}{' ' + name if name else ''})"
