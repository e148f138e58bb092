"""Markdown to safe HTML and plain text, run once when a body is written.

The operations that write a Markdown body store ``stored(body)`` beside it; pages, feeds and the
calendar read those columns and never render Markdown themselves.
"""

from __future__ import annotations

import html as entities
import re
from dataclasses import dataclass

import markdown
import nh3
from markupsafe import Markup

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "del", "em", "h3", "h4", "h5", "h6", "hr",
    "i", "li", "ol", "p", "pre", "strong", "sub", "sup", "table", "tbody", "td", "th", "thead",
    "tr", "ul",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "abbr": {"title"}, "td": {"align"},
                      "th": {"align"}}


_HEADING = re.compile(r"<(/?)h([1-6])\b")


def _demote_headings(html: str) -> str:
    # A body sits under the page's own h1/h2, so "# Summary" becomes an h3, "## Cause" an h4.
    return _HEADING.sub(lambda m: f"<{m[1]}h{min(int(m[2]) + 2, 6)}", html)


def render_markdown(text: str | None) -> Markup:
    """Render Markdown and strip everything that could run or restyle the page."""
    html = _demote_headings(markdown.markdown(text or "", extensions=["extra", "sane_lists"],
                                              output_format="html"))
    clean = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    return Markup(clean)


def to_plain_text(text: str | None) -> str:
    """The text of rendered Markdown without tags (for plain-text emails and summaries)."""
    return nh3.clean(markdown.markdown(text or ""), tags=set()).strip()


@dataclass(frozen=True)
class Stored:
    """A Markdown body with what is kept beside it: its sanitised HTML and its plain text."""

    source: str
    html: str
    text: str

    def columns(self, name: str) -> dict[str, str]:
        """The values of the columns ``name``, ``name_html`` and ``name_text``."""
        return {name: self.source, f"{name}_html": self.html, f"{name}_text": self.text}


def stored(text: str | None) -> Stored:
    """Render ``text`` once, for the columns beside it (the plain text without entities)."""
    return Stored(text or "", str(render_markdown(text)), entities.unescape(to_plain_text(text)))


def trusted_html(value: str | None) -> Markup:
    """HTML that ``stored`` wrote when the body was saved, marked safe for templates."""
    return Markup(value or "")
