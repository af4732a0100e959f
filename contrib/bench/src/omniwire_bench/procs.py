"""Processes the harness starts: servers on 127.0.0.1, long-lived workers, their memory.

Every process is started by this module, remembered, and ended by its own pid (SIGTERM,
then SIGKILL after a grace period) — never by name.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any, Sequence

HERE = Path(__file__).resolve().parent


def script(name: str) -> str:
    """Path of one of the standalone scripts shipped in this package."""
    return str(HERE / f"{name}.py")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Proc:
    """A started process; ``with Proc(...) as p`` ends it on the way out."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        cwd: str | None = None,
        log: Path | None = None,
        stdin: bool = False,
        ready_line: bool = False,
        ready_timeout: float = 30.0,
    ) -> None:
        self.argv = list(argv)
        self.log_path = log
        self._log: IO[bytes] | None = open(log, "wb") if log else None  # noqa: SIM115
        self.popen = subprocess.Popen(
            self.argv,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE if (stdin or ready_line) else (self._log or subprocess.DEVNULL),
            stderr=self._log or subprocess.DEVNULL,
            env=env,
            cwd=cwd,
            text=True if stdin or ready_line else None,
            bufsize=1 if stdin or ready_line else -1,
            start_new_session=True,
        )
        self.pid = self.popen.pid
        self.port = 0
        if ready_line:
            self.port = self._read_ready(ready_timeout)

    def _read_ready(self, timeout: float) -> int:
        assert self.popen.stdout is not None
        import selectors

        sel = selectors.DefaultSelector()
        sel.register(self.popen.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not sel.select(max(0.0, deadline - time.monotonic())):
                break
            line = self.popen.stdout.readline()
            if not line:
                break
            if line.startswith("READY "):
                sel.close()
                return int(line.split()[1])
        sel.close()
        self.stop()
        raise RuntimeError(f"{self.argv[:3]} did not become ready: {self.tail()}")

    # -- a JSON-lines worker ------------------------------------------------------------

    def ask(self, command: dict[str, Any], timeout: float = 300.0) -> dict[str, Any]:
        assert self.popen.stdin is not None and self.popen.stdout is not None
        self.popen.stdin.write(json.dumps(command) + "\n")
        self.popen.stdin.flush()
        import selectors

        sel = selectors.DefaultSelector()
        sel.register(self.popen.stdout, selectors.EVENT_READ)
        try:
            if not sel.select(timeout):
                raise TimeoutError(f"worker gave no answer to {command['op']} in {timeout}s")
        finally:
            sel.close()
        line = self.popen.stdout.readline()
        if not line:
            raise RuntimeError(f"worker exited: {self.tail()}")
        result: dict[str, Any] = json.loads(line)
        return result

    # -- memory ------------------------------------------------------------------------

    def tree(self) -> list[int]:
        return process_tree(self.pid)

    def rss_kb(self) -> int:
        return sum(status_kb(p, "VmRSS") for p in self.tree())

    def peak_rss_kb(self) -> int:
        return sum(status_kb(p, "VmHWM") for p in self.tree())

    # -- ending ------------------------------------------------------------------------

    def tail(self, n: int = 1500) -> str:
        if self.log_path and self.log_path.exists():
            return self.log_path.read_text(errors="replace")[-n:]
        return ""

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, grace: float = 5.0) -> None:
        if self.popen.poll() is None and self.popen.stdin is not None:
            try:
                self.popen.stdin.write(json.dumps({"op": "quit"}) + "\n")
                self.popen.stdin.flush()
                self.popen.wait(grace)
            except (OSError, ValueError, subprocess.TimeoutExpired):
                pass
        if self.popen.poll() is None:
            children = self.tree()[1:]
            try:
                os.kill(self.pid, signal.SIGTERM)
                self.popen.wait(grace)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
            for pid in [self.pid, *children]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(grace)
        for stream in (self.popen.stdin, self.popen.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Proc:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def process_tree(pid: int) -> list[int]:
    out = [pid]
    i = 0
    while i < len(out):
        p = out[i]
        i += 1
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    out.extend(int(c) for c in f.read().split())
        except OSError:
            continue
    return out


def status_kb(pid: int, field: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def wait_http(port: int, path: str = "/", timeout: float = 60.0, proc: Proc | None = None) -> None:
    """Until ``GET path`` on 127.0.0.1:port answers anything below 500."""
    deadline = time.monotonic() + timeout
    request = f"GET {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n".encode()
    while time.monotonic() < deadline:
        if proc is not None and not proc.alive():
            raise RuntimeError(f"{proc.argv[:3]} exited: {proc.tail()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                s.sendall(request)
                head = s.recv(64)
                if head.startswith(b"HTTP/1.") and int(head[9:12]) < 500:
                    return
        except (OSError, ValueError):
            pass
        time.sleep(0.1)
    raise TimeoutError(f"nothing answered on 127.0.0.1:{port}{path} in {timeout}s")


def run_json(argv: Sequence[str], timeout: float, env: dict[str, str] | None = None) -> Any:
    """Run a command to completion and parse the last JSON line it printed."""
    done = subprocess.run(
        list(argv), capture_output=True, text=True, timeout=timeout, env=env, check=False
    )
    for line in reversed(done.stdout.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(
        f"{' '.join(argv[:3])} printed no JSON (exit {done.returncode}): {done.stderr[-1500:]}"
    )


def python() -> str:
    return sys.executable
