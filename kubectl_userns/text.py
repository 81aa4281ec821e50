"""Text that may come from a node, the API or a parser made safe to print: every layer uses
these, so there is one rule for what reaches a terminal or an ``error:`` line."""

from __future__ import annotations


def printable(text: str) -> str:
    """``text`` with every character a terminal could act on shown as an escape instead.

    Control characters (C0, DEL, C1: escape sequences that set the title, clear the screen,
    colour text), format characters (bidi overrides), line and paragraph separators, other
    spaces than ' ', surrogates and unassigned code points become ``\\xNN``, ``\\uNNNN`` or
    ``\\UNNNNNNNN`` - newline and TAB too, so the text stays on its line. Strings from a node
    or the API pass through here before they reach a terminal; JSON and YAML escape by
    themselves.
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else _escape(c) for c in text)


def _escape(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def one_line(value: object) -> str:
    """``value`` as one printable line: whitespace runs (newlines too) become one space, other
    unprintable characters an escape (:func:`printable`), so no message can move the cursor or
    forge a second line."""
    return printable(" ".join(str(value).split()))


def quoted(value: object, limit: int = 200) -> str:
    """A server's, a parser's or a plugin's text to quote inside one of our messages: one
    printable line (:func:`one_line`) of at most ``limit`` characters."""
    return one_line(value)[:limit]
