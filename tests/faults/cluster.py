"""A throwaway PostgreSQL cluster of a test's own, to stop and start at will (never a shared one).

It is run as the ``postgres`` user on a free loopback port with fsync off, as ``.ci/run``
does; every step's output is kept so that a failure says why.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def initdb_path() -> Path | None:
    """The newest PostgreSQL ``initdb`` on this machine, if any."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]) if found else None


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Cluster:
    """One cluster in a temporary directory; ``url`` names its database ``statuspage``."""

    def __init__(self) -> None:
        initdb = initdb_path()
        if initdb is None:
            raise RuntimeError("PostgreSQL is not installed")
        self.bin = initdb.parent
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="statuspage-pg-"))
        shutil.chown(self.dir, "postgres")
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/statuspage"

    def _run(self, *args: str) -> None:
        env = {**os.environ, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
        done = subprocess.run(["runuser", "-u", "postgres", "--", *args], env=env,
                              capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"{args[0]} failed: {done.stdout}{done.stderr}{log}")

    def create(self) -> None:
        """Make the cluster and its database, and start it."""
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-E", "UTF8",
                  "--locale=C.UTF-8", "-U", "postgres", "--auth=trust")
        self.start()
        self._run(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                  "statuspage")

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w",
                  "-o", f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir} "
                  "-c fsync=off -c full_page_writes=off", "start")

    def stop(self) -> None:
        """Stop the server at once, as a crash or a lost network would."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")

    def remove(self) -> None:
        """Stop it if it runs and delete it."""
        try:
            self.stop()
        except RuntimeError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)
