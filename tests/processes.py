"""Real processes for integration tests: the demo shop and ``scrapy crawl``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).parent / "project"
BIN = Path(sys.executable).parent


def scrapy_ws(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """Run the installed ``scrapy-ws`` entry point."""
    return subprocess.run(
        [str(BIN / "scrapy-ws"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class Process:
    """A child process whose merged output is collected line by line."""

    def __init__(self, args: list[str], cwd: Path | None = None) -> None:
        self.args = args
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self.proc = subprocess.Popen(
            args,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    @property
    def output(self) -> str:
        with self._changed:
            return "\n".join(self.lines)

    def wait_for(self, pattern: str, timeout: float = 60) -> re.Match[str]:
        """The first output line matching ``pattern``; fails with the output so far."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        seen = 0
        with self._changed:
            while True:
                for line in self.lines[seen:]:
                    match = regex.search(line)
                    if match:
                        return match
                seen = len(self.lines)
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (
                    self.proc.poll() is not None and not self._reader.is_alive()
                ):
                    raise AssertionError(
                        f"{pattern!r} not seen in the output of {self.args}:\n{self.output_tail()}"
                    )
                self._changed.wait(min(remaining, 0.5))

    def output_tail(self, lines: int = 60) -> str:
        return "\n".join(self.lines[-lines:])

    def wait(self, timeout: float = 120) -> int:
        code = self.proc.wait(timeout)
        self._reader.join(5)
        return code

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def start_shop(products: int = 40, delay: float = 0.0) -> tuple[Process, str]:
    shop = Process(
        [
            sys.executable,
            "-m",
            "scrapy_webservice.demo.site",
            "--products",
            str(products),
            "--delay",
            str(delay),
        ]
    )
    url = shop.wait_for(r"^(http://127\.0\.0\.1:\d+/)$", timeout=30).group(1)
    return shop, url


class Crawl(Process):
    """``scrapy crawl demo`` in the test project, with the web service on."""

    def __init__(
        self,
        shop_url: str,
        items: Path,
        spider: str = "demo",
        settings: dict[str, Any] | None = None,
        python: str = sys.executable,
    ) -> None:
        args = [
            python,
            "-m",
            "scrapy",
            "crawl",
            spider,
            "-a",
            f"url={shop_url}",
            "-O",
            f"{items}:jsonlines",
        ]
        for name, value in (settings or {}).items():
            args += ["-s", f"{name}={value}"]
        super().__init__(args, cwd=PROJECT)

    def service_url(self, timeout: float = 60) -> str:
        return self.wait_for(r"Web service listening on (http://\S+)", timeout).group(1) + "/"


def count_lines(path: Path) -> int:
    return sum(1 for line in path.read_text().splitlines() if line.strip())
