"""Markdown to safe HTML and readable plain text, run once when a body is written.

The operations that write a Markdown body store ``stored(body)`` beside it; pages, feeds and the
calendar read those columns and never render Markdown themselves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

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


_BLOCKS = {"p", "ul", "ol", "pre", "blockquote", "table", "hr", "h3", "h4", "h5", "h6"}


class _TextWriter(HTMLParser):
    """Sanitised HTML to text that reads like its Markdown: bullets, numbers, quotes, links."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.lists: list[list[int]] = []  # per open list: [next number], or [] when bulleted
        self.quote = 0
        self.pre = 0
        self.href: str | None = None
        self.link_text: list[str] = []

    def _break(self, blank: bool = False) -> None:
        text = "".join(self.out).rstrip(" ")
        self.out = [text]
        if text and not text.endswith("\n"):
            self.out.append("\n")
        if blank and text and not text.endswith("\n\n"):
            self.out.append("\n")

    def _prefix(self) -> str:
        return "> " * self.quote

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCKS:
            self._break(blank=not self.lists)
            self.out.append(self._prefix())
            if tag == "hr":
                self.out.append("----")
            elif tag == "ol":
                self.lists.append([1])
            elif tag == "ul":
                self.lists.append([])
            elif tag == "blockquote":
                self.quote += 1
            elif tag == "pre":
                self.pre += 1
        elif tag == "tr":
            self._break()
            self.out.append(self._prefix())
        elif tag == "li":
            self._break()
            depth = max(len(self.lists) - 1, 0)
            counter = self.lists[-1] if self.lists else []
            marker = f"{counter[0]}." if counter else "-"
            if counter:
                counter[0] += 1
            self.out.append(self._prefix() + "  " * depth + marker + " ")
        elif tag == "br":
            self.out.append("\n" + self._prefix())
        elif tag == "a":
            self.href = dict(attrs).get("href")
            self.link_text = []
        elif tag in {"td", "th"}:
            line = "".join(self.out).rsplit("\n", 1)[-1]
            if line.strip(" >"):
                self.out.append(" | ")

    def handle_endtag(self, tag: str) -> None:
        if tag in {"ul", "ol"} and self.lists:
            self.lists.pop()
            self._break(blank=not self.lists)
        elif tag == "blockquote" and self.quote:
            self.quote -= 1
            self._break(blank=True)
        elif tag == "pre" and self.pre:
            self.pre -= 1
            self._break(blank=True)
        elif tag in _BLOCKS:
            self._break(blank=not self.lists)
        elif tag == "a" and self.href is not None:
            text = "".join(self.link_text).strip()
            if self.href and self.href not in (text, f"mailto:{text}"):
                self.out.append(f" ({self.href})")
            self.href = None

    def handle_data(self, data: str) -> None:
        if not self.pre:
            data = re.sub(r"\s+", " ", data)
            if "".join(self.out[-1:]).endswith(("\n", " ")) or not self.out:
                data = data.lstrip()
        else:
            data = data.replace("\n", "\n" + self._prefix())
        if self.href is not None:
            self.link_text.append(data)
        self.out.append(data)

    def text(self) -> str:
        return re.sub(r"\n{3,}", "\n\n", "".join(self.out)).strip()


def markdown_to_text(text: str | None) -> str:
    """Markdown as readable plain text: list markers, numbers, quotes and link targets kept."""
    writer = _TextWriter()
    writer.feed(str(render_markdown(text)))
    writer.close()
    return writer.text()


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
    """Render ``text`` once, for the columns beside it (its HTML and its readable text)."""
    return Stored(text or "", str(render_markdown(text)), markdown_to_text(text))


def trusted_html(value: str | None) -> Markup:
    """HTML that ``stored`` wrote when the body was saved, marked safe for templates."""
    return Markup(value or "")
