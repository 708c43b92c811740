"""Integration-test harness: a local S3 server, a real `pronscore worker` process, and waits."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select

from db.models import Recording, Run
from db.session import session_scope
from producer.sample import sample_submissions
from pronscore.settings import get_settings

ROOT = Path(__file__).resolve().parent.parent


def free_port_block() -> int:
    """A base port whose five ports, and those plus 10000 (gRPC), are free; all below the
    kernel's ephemeral range, so outgoing connections cannot take them meanwhile."""
    for base in range(20000 + (os.getpid() % 400) * 5, 22700, 5):
        ports = [base + i for i in range(5)] + [base + 10000 + i for i in range(5)]
        try:
            for port in ports:
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no free block of ports for the S3 server")


@dataclass
class S3Server:
    endpoint: str
    access_key: str
    secret_key: str
    pid: int
    directory: Path
    port: int

    @classmethod
    def start(cls, directory: Path, port: int | None = None) -> S3Server:
        port = port or free_port_block()
        key, secret = "pronscore-test", "pronscore-test-secret"
        output = subprocess.run(
            [str(ROOT / "scripts" / "s3-server"), str(directory), str(port), key, secret],
            check=True,
            capture_output=True,
            text=True,
        )
        return cls(f"http://127.0.0.1:{port}", key, secret, int(output.stdout.strip()), directory, port)

    def stop(self) -> None:
        """Stop the server and wait until it is gone (an outage, for a test that restarts it)."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)

    def restart(self) -> None:
        """Start again on the same port and data, as after an outage."""
        self.pid = S3Server.start(self.directory, self.port).pid


@dataclass
class WorkerProcess:
    """`pronscore worker` as a separate process group, so a test can SIGKILL all of it."""

    log_path: Path
    process: subprocess.Popen | None = None
    starts: int = 0
    env: dict[str, str] = field(default_factory=dict)

    def ensure_running(self, env: dict[str, str]) -> None:
        if self.process is not None and self.process.poll() is None and env == self.env:
            return
        self.stop()
        self.env = dict(env)
        self.starts += 1
        log = self.log_path.open("a")
        self.process = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "pronscore"), "worker", "--loglevel", "INFO"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        """SIGKILL the worker and its children, as a crash or an OOM killer would."""
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
            self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
        self.process = None


def counts(run: str) -> dict[str, int]:
    with session_scope(get_settings().database_url) as session:
        rows = session.execute(
            select(Recording.status, func.count())
            .join(Run, Run.id == Recording.run_id)
            .where(Run.name == run)
            .group_by(Recording.status)
        ).all()
    return {status.value: n for status, n in rows}


def wait_for_run(run: str, expected: int, timeout: float = 120.0) -> dict[str, int]:
    """Wait until every recording of the run is scored or failed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = counts(run)
        if now.get("scored", 0) + now.get("failed", 0) >= expected:
            return now
        time.sleep(0.5)
    raise AssertionError(f"run {run} did not finish in {timeout} s: {counts(run)}")


def short_sample(count: int) -> list[dict]:
    """Manifest rows of sample recordings with short sentences (the tiny model answers those in full)."""
    rows = [s.manifest_row() for s in sample_submissions(ROOT / "data" / "speechocean762-sample")]
    return [row for row in rows if len(row["text"].split()) <= 4][:count]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path
