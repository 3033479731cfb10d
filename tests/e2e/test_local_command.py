"""``kops-iam local`` as a user runs it: a process that prints ``ready``, reports each event,
and stops cleanly on Ctrl-C (SIGINT) or SIGTERM with exit status 0."""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "events" / "specs"
TIMEOUT = 30.0


class Process:
    """A ``kops-iam`` subprocess whose stdout lines are read on a thread."""

    def __init__(self, *args: str) -> None:
        # A pipe, and nothing that turns colour off: colour is for terminals only.
        env = {**os.environ, "NO_COLOR": "", "TERM": "xterm-256color", "PYTHONUNBUFFERED": "1"}
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "kops_iam_tools.cli", *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, predicate: object, timeout: float = TIMEOUT) -> str:
        """The next stdout line matching ``predicate`` (a callable on the line)."""
        assert callable(predicate)
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                self.popen.kill()
                raise AssertionError(f"no matching line; seen: {self.seen}") from None
            self.seen.append(line)
            if predicate(line):
                return line

    def stop(self, signum: int) -> tuple[int, str, str]:
        """Send ``signum``; return the exit status, the rest of stdout, and stderr."""
        self.popen.send_signal(signum)
        code = self.popen.wait(timeout=TIMEOUT)
        self._reader.join(timeout=5)
        rest = []
        while not self.lines.empty():
            rest.append(self.lines.get())
        assert self.popen.stderr is not None
        return code, "\n".join(rest), self.popen.stderr.read()

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait()


@pytest.fixture
def processes() -> Iterator[list[Process]]:
    started: list[Process] = []
    yield started
    for process in started:
        process.kill()


def _s3(endpoint: str) -> object:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_local_prints_ready_reports_an_upload_and_stops_on_ctrl_c(
    processes: list[Process],
) -> None:
    # Given `kops-iam local` started on a free port
    process = Process("local")
    processes.append(process)
    ready = process.wait_for(lambda line: line.startswith("ready"))
    endpoint = ready.split()[1]
    assert endpoint.startswith("http://127.0.0.1:")
    # And the commands to try name that endpoint, the bucket and the audit tail queue
    banner = "\n".join(process.seen)
    assert f"aws --endpoint-url {endpoint} s3 cp" in banner
    assert "s3://kops-iam-specs/example.k8s.dev/config" in banner
    assert f"--queue-url {endpoint}/123456789012/kops-iam-audit-tail" in banner
    assert "boto3.client(" in banner

    # When a spec is uploaded with boto3 to the printed endpoint
    _s3(endpoint).put_object(  # type: ignore[attr-defined]
        Bucket="kops-iam-specs",
        Key="example.k8s.dev/config",
        Body=(SPECS / "kops-page-example.yaml").read_bytes(),
    )

    # Then an event line names the cluster, the outcome and a summary
    line = process.wait_for(lambda text: "example.k8s.dev" in text)
    assert "Spec Applied" in line and "2 roles created" in line

    # When Ctrl-C is pressed (SIGINT)
    code, rest, stderr = process.stop(signal.SIGINT)

    # Then it stops cleanly: exit status 0, a last word, no traceback
    assert code == 0
    assert "stopped" in rest
    assert "Traceback" not in stderr
    # And into a pipe nothing was coloured
    assert "\033[" not in "\n".join([*process.seen, rest])


def test_local_json_lines_report_a_rejection_and_stop_on_sigterm(
    processes: list[Process],
) -> None:
    # Given `kops-iam local --json`
    process = Process("local", "--json")
    processes.append(process)
    ready = json.loads(process.wait_for(lambda line: '"ready"' in line))
    assert ready["bucket"] == "kops-iam-specs"

    # When an invalid spec is uploaded
    _s3(ready["endpoint"]).put_object(  # type: ignore[attr-defined]
        Bucket=ready["bucket"],
        Key="broken.k8s.example.com/config",
        Body=(SPECS / "invalid" / "bad-effect.yaml").read_bytes(),
    )

    # Then one JSON line reports the invocation and its audit event with the error
    record = json.loads(process.wait_for(lambda line: '"invocation"' in line))
    [audit] = record["audit"]
    assert audit["detailType"] == "Spec Rejected"
    assert [e["path"] for e in audit["detail"]["errors"]] == [
        "spec.additionalPolicies.node[0].Effect"
    ]

    # When it is told to terminate
    code, rest, stderr = process.stop(signal.SIGTERM)

    # Then it stops cleanly with a last JSON line
    assert code == 0
    assert json.loads(rest.splitlines()[-1])["event"] == "stopped"
    assert "Traceback" not in stderr


def test_local_on_a_port_in_use_says_so_and_exits_1() -> None:
    # Given a port something else listens on
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]

        # When `kops-iam local` is asked to use it
        result = subprocess.run(
            [sys.executable, "-m", "kops_iam_tools.cli", "local", "--port", str(port)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )

    # Then it explains and exits 1, without a traceback
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "--port" in result.stderr
    assert "Traceback" not in result.stderr
