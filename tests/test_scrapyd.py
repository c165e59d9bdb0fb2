"""A real scrapyd runs the test project: each job's service knows its job id.

How scrapyd runs the project here: the way a user runs scrapyd on the
machine that holds the project, from the project's directory
(``cd project && scrapyd``), with no egg. scrapyd then knows the projects
in the ``[settings]`` section of the closest ``scrapy.cfg`` (``default =
wsproject.settings``: the project ``default``), lists their spiders with
``scrapy list`` and starts each job in that directory as ``python -m
scrapyd.runner crawl demo -s LOG_FILE=... -s SETTING=... -a _job=JOBID -a
ARG=...``. Nothing is built or uploaded, so it works offline, and the jobs
run this checkout's code. (Deploying an egg instead needs scrapyd-client,
which writes a ``setup.py`` into the project, and setuptools' egg builder;
what a job does with the web service is the same either way.)

The project directory is a copy of ``tests/project`` under ``tmp_path``, so
nothing scrapyd does touches the checkout. scrapyd's configuration, written
by the test, is the ``[scrapyd]`` section of the copy's ``scrapy.cfg``:
127.0.0.1 on a free port, ``max_proc = 12`` (ten jobs at once; the default
is four per CPU), a short ``poll_interval``, and its logs, eggs and
databases under ``tmp_path``. ``scrapy.cfg`` is the last source scrapyd
reads, so a ``~/.scrapyd.conf`` or ``/etc/scrapyd/`` on the machine cannot
change it.

The jobs inherit scrapyd's environment, the test's: ``XDG_RUNTIME_DIR`` is
the test's runtime directory, so each job's discovery file lands where the
test and ``scrapy-ws`` look, and plugin autoloading is off. Each job gets the
web service's port range as ``schedule.json``'s ``setting=WEBSERVICE_PORT=
FIRST-LAST`` (scrapyd's ``-s``): free ports picked by the test outside the
ephemeral range, so ten services take ten ports of one range.

scrapyd is in the ``test`` extra. Without it these tests skip, unless
``SCRAPY_WS_REQUIRE_SCRAPYD=1`` (set by .ci/run), which fails them instead.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import random
import shutil
import signal
import socket
import sys
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scrapy_webservice.testing import WatchedProcess, http, start_shop

from .processes import PROJECT, scrapy_ws, wait_until

pytestmark = pytest.mark.integration

#: The project as scrapyd knows it: its name in scrapy.cfg's [settings].
SCRAPYD_PROJECT = "default"
#: A crawl long enough (1000 products, a second an answer, four at a time)
#: that every job still runs when the test stops it, and light enough that
#: ten of them leave the CPU to the jobs still starting.
PRODUCTS = 1000
DELAY = 1.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def free_port_range(size: int) -> tuple[int, int]:
    """``size`` consecutive ports on 127.0.0.1 that nothing listens on now.

    Below Linux's ephemeral range (32768 up), which outgoing connections
    take ports from while the services start.
    """
    chooser = random.SystemRandom()
    for _ in range(200):
        first = chooser.randrange(20000, 32000 - size)
        ports = range(first, first + size)
        if all(_bindable(port) for port in ports):
            return first, ports[-1]
    raise AssertionError(f"no {size} free consecutive ports between 20000 and 32000")


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class Scrapyd(WatchedProcess):
    """``scrapyd`` run from a copy of the test project, and its JSON API."""

    def __init__(self, home: Path, max_proc: int = 12) -> None:
        self.project = home / "project"
        shutil.copytree(PROJECT, self.project, ignore=shutil.ignore_patterns("__pycache__"))
        self.logs = home / "logs"
        self.port = free_port()
        config = {
            "bind_address": "127.0.0.1",
            "http_port": self.port,
            "max_proc": max_proc,
            "poll_interval": 0.2,
            "logs_dir": self.logs,
            "eggs_dir": home / "eggs",
            "dbs_dir": home / "dbs",
            "items_dir": "",
            "jobs_dir": "",
        }
        with (self.project / "scrapy.cfg").open("a") as cfg:
            cfg.write("\n[scrapyd]\n")
            cfg.writelines(f"{name} = {value}\n" for name, value in config.items())
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        for name in ("SCRAPY_SETTINGS_MODULE", "SCRAPY_PROJECT", "SCRAPYD_JOB", "SCRAPY_JOB"):
            env.pop(name, None)
        # No twistd.pid in the project: --pidfile= writes none.
        super().__init__([sys.executable, "-m", "scrapyd", "--pidfile="], self.project, env)
        self.url = f"http://127.0.0.1:{self.port}/"

    def api(self, endpoint: str, **params: Any) -> dict[str, Any]:
        """``GET`` (no params) or ``POST`` (form params; a list repeats a param) an endpoint."""
        if params:
            body = urllib.parse.urlencode(params, doseq=True)
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            reply = http(self.url + endpoint, "POST", body, headers=headers, timeout=60)
        else:
            reply = http(self.url + endpoint, timeout=60)
        answer = reply.json
        assert (reply.status, answer["status"]) == (200, "ok"), (endpoint, answer)
        return answer

    def schedule(self, spider: str, settings: dict[str, str], **arguments: str) -> str:
        setting = [f"{name}={value}" for name, value in settings.items()]
        answer = self.api(
            "schedule.json", project=SCRAPYD_PROJECT, spider=spider, setting=setting, **arguments
        )
        return answer["jobid"]

    def jobs(self, state: str) -> dict[str, dict[str, Any]]:
        """The jobs ``listjobs.json`` lists as ``state`` (pending, running, finished), by id."""
        answer = self.api(f"listjobs.json?project={SCRAPYD_PROJECT}")
        return {job["id"]: job for job in answer[state]}

    def cancel(self, job: str) -> str | None:
        answer = self.api("cancel.json", project=SCRAPYD_PROJECT, job=job)
        return answer["prevstate"]

    def job_log(self, job: str, spider: str = "demo") -> str:
        return (self.logs / SCRAPYD_PROJECT / spider / f"{job}.log").read_text()

    def stop(self) -> None:
        """Cancel what still runs (scrapyd leaves its jobs running when it stops), then stop."""
        running: dict[str, dict[str, Any]] = {}
        with contextlib.suppress(AssertionError, OSError, ValueError):
            running = self.jobs("running")
            for job in [*running, *self.jobs("pending")]:
                self.cancel(job)
            wait_until(lambda: not self.jobs("running"), timeout=30, what="jobs cancelled")
            running = {}
        for job in running.values():  # still running: processes scrapyd started for this test
            with contextlib.suppress(ProcessLookupError):
                os.kill(job["pid"], signal.SIGKILL)
        super().stop()


@pytest.fixture(autouse=True)
def _scrapyd_installed() -> None:
    """Skip (or fail, with ``SCRAPY_WS_REQUIRE_SCRAPYD=1``) before starting anything."""
    if importlib.util.find_spec("scrapyd") is None:
        message = "scrapyd is needed: pip install -e '.[test]' installs it"
        if os.environ.get("SCRAPY_WS_REQUIRE_SCRAPYD"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def scrapyd(tmp_path: Path, runtime_dir: Path) -> Iterator[Scrapyd]:
    """A scrapyd on 127.0.0.1 running the test project; its jobs inherit ``runtime_dir``."""
    daemon = Scrapyd(tmp_path / "scrapyd")
    try:
        daemon.wait_for(rf"Site starting on {daemon.port}", timeout=60)
        wait_until(lambda: _answers(daemon), timeout=30, what="scrapyd's daemonstatus.json")
        yield daemon
    finally:
        daemon.stop()


def _answers(daemon: Scrapyd) -> bool:
    try:
        return daemon.api("daemonstatus.json")["status"] == "ok"
    except OSError:
        return False


@pytest.fixture
def shop(crawls: list[WatchedProcess]) -> str:
    process, url = start_shop(PRODUCTS, DELAY)
    crawls.append(process)
    return url


def discovered(runtime_dir: Path) -> dict[str, dict[str, Any]]:
    """The discovery files of the running services, by the job each names."""
    found = {}
    for path in (runtime_dir / "scrapy-webservice").glob("*.json"):
        try:
            info = json.loads(path.read_text())
        except (OSError, ValueError):  # being written or removed
            continue
        found[info.get("job")] = info
    return found


def port_of(info: dict[str, Any]) -> int:
    port = urllib.parse.urlsplit(info["url"]).port
    assert port is not None, info
    return port


def test_a_scrapyd_job_is_known_and_stopped_by_its_job_id(shop, scrapyd, runtime_dir):
    first, last = free_port_range(10)
    job = scrapyd.schedule("demo", {"WEBSERVICE_PORT": f"{first}-{last}"}, url=shop)

    info = wait_until(lambda: discovered(runtime_dir).get(job), timeout=60, what="the service")
    assert info["job"] == job
    assert first <= port_of(info) <= last
    assert info["pid"] == scrapyd.jobs("running")[job]["pid"]
    token = info["token"]
    health = http(info["url"] + "health", token=token).json
    assert health["pid"] == info["pid"]
    assert health["crawls"]["demo"]["job"] == job
    assert http(info["url"] + "enginestatus/demo", token=token).json["job"] == job
    assert http(info["url"] + f"enginestatus/{job}", token=token).json["job"] == job

    status = scrapy_ws("status", "--json")
    assert status.returncode == 0, status.stderr
    (entry,) = json.loads(status.stdout).values()
    assert (entry["spider"], entry["pid"], entry["service"]) == ("demo", info["pid"], info["url"])

    stopped = scrapy_ws("stop", job)
    assert stopped.returncode == 0, stopped.stderr
    assert job in stopped.stdout
    wait_until(lambda: job in scrapyd.jobs("finished"), timeout=60, what="the job finished")
    assert "Spider closed (closed_by_webservice)" in scrapyd.job_log(job)
    assert job not in discovered(runtime_dir)


def test_ten_jobs_on_one_node_each_stopped_by_its_own_id(shop, scrapyd, runtime_dir):
    first, last = free_port_range(20)
    settings = {"WEBSERVICE_PORT": f"{first}-{last}"}
    jobs = [scrapyd.schedule("demo", settings, url=shop) for _ in range(10)]
    assert len(set(jobs)) == 10

    def all_up() -> dict[str, dict[str, Any]] | None:
        found = discovered(runtime_dir)
        return found if set(found) == set(jobs) else None

    services = wait_until(all_up, timeout=120, what="ten services")
    ports = {port_of(info) for info in services.values()}
    assert len(ports) == 10
    assert all(first <= port <= last for port in ports), (ports, first, last)
    running = scrapyd.jobs("running")
    assert {job: info["pid"] for job, info in services.items()} == {
        job: running[job]["pid"] for job in jobs
    }
    for job, info in services.items():
        health = http(info["url"] + "health", token=info["token"]).json
        assert health["crawls"]["demo"]["job"] == job

    status = scrapy_ws("status", "--json")
    assert status.returncode == 0, status.stderr
    pids = {entry["pid"] for entry in json.loads(status.stdout).values()}
    assert pids == {info["pid"] for info in services.values()}

    victim, *others = jobs
    stopped = scrapy_ws("stop", victim)
    assert stopped.returncode == 0, stopped.stderr
    wait_until(lambda: victim in scrapyd.jobs("finished"), timeout=60, what="the job stopped")
    assert "Spider closed (closed_by_webservice)" in scrapyd.job_log(victim)
    # Only that one: the other nine still run, each its own job.
    assert set(scrapyd.jobs("running")) == set(others)
    assert set(discovered(runtime_dir)) == set(others)
    for job in others:
        info = services[job]
        health = http(info["url"] + "health", token=info["token"]).json
        assert health["crawls"]["demo"]["job"] == job
        assert health["crawls"]["demo"]["state"] == "running"

    # The rest through scrapyd itself: cancel.json sends SIGINT, a clean shutdown.
    assert [scrapyd.cancel(job) for job in others] == ["running"] * len(others)
    wait_until(lambda: set(scrapyd.jobs("finished")) == set(jobs), timeout=60, what="all finished")
    for job in others:
        assert "Spider closed (shutdown)" in scrapyd.job_log(job)
    wait_until(lambda: not discovered(runtime_dir), timeout=10, what="discovery files removed")
