"""Stopping the server and worker processes tests start: asked first, killed if they linger."""

from __future__ import annotations

import subprocess
from typing import Any


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
