"""The servers and worker processes tests start: servers in a thread of the test, where a
process's output goes, and stopping processes (asked first, killed if they linger)."""

from __future__ import annotations

import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any


@contextmanager
def serving(server: Any) -> Iterator[str]:
    """Run a ``socketserver``-style server bound to loopback (werkzeug's, ``http.server``'s)
    in a thread; yields its base URL, then shuts it down and closes its socket."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()


def output_file() -> IO[str]:
    """Somewhere for a child's output that never fills: a pipe nobody reads holds 64 KB, and
    a server logging more than that (a warning per request while its database is down)
    blocks on its next write and stops answering."""
    return tempfile.TemporaryFile("w+")


def output_of(output: IO[str]) -> str:
    """All a child has written to its ``output_file`` so far."""
    output.flush()
    output.seek(0)
    return output.read()


def stop(*processes: subprocess.Popen[Any], timeout: float) -> None:
    """SIGTERM every process still running, then wait up to ``timeout`` seconds for each and
    kill the ones that have not exited by then."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
