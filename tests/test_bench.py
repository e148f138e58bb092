"""Every benchmark in bench/ runs here at tiny sizes, so that none of them rots.

Their figures mean nothing at these sizes and nothing is asserted about time; the full runs
and their figures are in bench/RESULTS.md.
"""

from __future__ import annotations

import shutil

from bench import page, serving
from tests.conftest import require_tool


def test_the_in_process_page_benchmarks_run(capsys):
    page.main(older=20, repeat=2)

    printed = capsys.readouterr().out
    assert "history:" in printed and "snapshot:" in printed


def test_the_http_growth_and_write_storm_benchmarks_run():
    require_tool("wrk", shutil.which("wrk") is not None)
    lines: list[str] = []

    serving.run(serving.SMOKE, ("sqlite",), report=lines.append)

    text = "\n".join(lines)
    for url in serving.urls():
        assert f"\n{url} " in text, url
    assert "page weight: / is" in text and "write storm (" in text
    assert all(f"\n{url} " in text for url in serving.GROWTH_URLS)
    assert " 0 errors;" in text
