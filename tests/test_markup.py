"""Markdown renders, and nothing that could run survives."""

from __future__ import annotations

import pytest
from markupsafe import Markup

from statuspage.markup import render_markdown, stored, to_plain_text, trusted_html


def test_markdown_renders_common_formatting():
    html = render_markdown("**Fixed** the [API](https://example.com)\n\n- one\n- two")
    assert isinstance(html, Markup)
    assert "<strong>Fixed</strong>" in html
    assert '<a href="https://example.com" rel="noopener noreferrer nofollow">API</a>' in html
    assert "<li>one</li>" in html


@pytest.mark.parametrize(
    "attack",
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        "[click](javascript:alert(1))",
        '<a href="javascript:alert(1)">x</a>',
        "<iframe src='https://evil.example'></iframe>",
        '<p style="position:fixed">x</p>',
        "<svg onload=alert(1)>",
    ],
)
def test_dangerous_markup_is_removed(attack):
    html = render_markdown(attack).lower()
    for needle in ("<script", "onerror", "javascript:", "<iframe", "style=", "onload", "<svg"):
        assert needle not in html


def test_plain_text_has_no_tags():
    assert to_plain_text("**bold** <b>x</b>") == "bold x"


def test_headings_sit_below_the_page_headings():
    html = render_markdown("# Summary\n\n## Cause\n\n###### Small")
    assert "<h3>Summary</h3>" in html and "<h4>Cause</h4>" in html
    assert "<h6>Small</h6>" in html


def test_stored_keeps_the_sanitised_html_and_the_plain_text_without_entities():
    kept = stored("**R&D** fixed <script>x()</script> the `<b>` tag")

    assert kept.source == "**R&D** fixed <script>x()</script> the `<b>` tag"
    assert kept.html == str(render_markdown(kept.source))
    assert "<script" not in kept.html
    assert kept.text == "R&D fixed the <b> tag"
    assert kept.columns("body") == {"body": kept.source, "body_html": kept.html,
                                    "body_text": kept.text}


def test_stored_html_is_trusted_as_it_was_written():
    assert trusted_html("<p>x</p>") == Markup("<p>x</p>")
    assert trusted_html(None) == Markup("")
