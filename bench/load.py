"""gunicorn processes and wrk runs for the HTTP benchmarks; stopping any benchmark's processes."""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
# Headers gunicorn writes itself; the twin must not send them twice.
_OWN_HEADERS = {"date", "server", "connection", "transfer-encoding"}


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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


@contextmanager
def gunicorn(target: str, env: dict[str, str], workers: int = 2) -> Iterator[str]:
    """Serve ``target`` (``module:app``) with ``workers`` sync workers; yields the base URL."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--bind",
         f"127.0.0.1:{port}", "--no-control-socket", "--log-level", "warning", target],
        cwd=ROOT, env={**os.environ, "HOME": "/tmp", **env}, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(base + "/", timeout=30)
                break
            except requests.ConnectionError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn {target} did not start: "
                                       f"{server.stderr.read() if server.stderr else ''}"
                                       ) from None
                time.sleep(0.2)
        yield base
    finally:
        stop(server, timeout=20)
        if server.stderr:
            server.stderr.close()


def record_twin(base: str, paths: list[str], file: Path) -> None:
    """Record what the application answers for each path, for the static twin to replay."""
    answers = {}
    for path in paths:
        response = requests.get(base + path, timeout=60, headers={"Accept-Encoding": "identity"})
        if response.status_code != 200:
            raise RuntimeError(f"{path} answered {response.status_code}")
        headers = [[k, v] for k, v in response.raw.headers.items()
                   if k.lower() not in _OWN_HEADERS]
        answers[path] = [f"{response.status_code} {response.reason}", headers,
                         base64.b64encode(response.content).decode()]
    file.write_text(json.dumps(answers))


@dataclass(frozen=True)
class Run:
    """One wrk run: throughput and latency percentiles (milliseconds)."""

    rps: float
    p50: float
    p99: float
    errors: int


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    number, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(number) * _UNITS[unit]


def wrk(url: str, seconds: float, connections: int = 32, threads: int = 2) -> Run:
    """Load ``url`` for ``seconds`` with wrk; its own numbers, parsed."""
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
                          "--latency", "--timeout", "10s", url],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                        r"timeout (\d+)", out)
    errors = (int(bad.group(1)) if bad else 0) + (sum(map(int, sockets.groups()))
                                                  if sockets else 0)
    return Run(rps, p50, p99, errors)
