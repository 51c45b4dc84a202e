"""Messages as safe HTML: Markdown rendered on the server with raw HTML switched off.

markdown-it-py escapes any HTML in the text and refuses `javascript:`-style links, so what
an agent (or a prompt-injected tool result) writes can format a message but never run in the
page.
"""

from __future__ import annotations

from functools import lru_cache
from html import escape

from markdown_it import MarkdownIt

MAX_RENDERED_CHARS = 100_000  # longer text is shown as plain text


@lru_cache(maxsize=1)
def _renderer() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
        ["table", "strikethrough"]
    )


def render(text: str) -> str:
    if len(text) > MAX_RENDERED_CHARS:
        return f"<pre>{escape(text)}</pre>"
    return _renderer().render(text)
