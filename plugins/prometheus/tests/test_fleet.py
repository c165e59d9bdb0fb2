"""A fleet of three "machines" watched and steered through Prometheus's discovery.

Each machine is a network namespace made by the test (a veth pair to this
one: 10.201.N.2 there, 10.201.N.1 here) running the demo shop and a crawl
whose service listens on every interface of its namespace with the fleet's
tokens read from files, as a pod would. One real Prometheus discovers them
through file_sd; ``scrapy-ws --prometheus URL`` then works across them.
Where namespaces cannot be made (not root, no ``ip``), each machine is a
loopback address of its own instead; the test says which ran.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from scrapy_webservice.cli import WebServiceClient
from scrapy_webservice.testing import WatchedProcess
from test_prometheus_server import api, prometheus_binary, running_prometheus, wait_for  # noqa: F401

TOKEN = "fleet-full-" + "f" * 30
READER = "fleet-reads-" + "r" * 30
MACHINES = 3
PORT = 6080
PROJECT = Path(__file__).resolve().parents[3] / "tests" / "project"
BIN = Path(sys.executable).parent


class Machine:
    """One machine of the fleet: a namespace (or a loopback address) with a shop and a crawl."""

    def __init__(self, number: int, namespaces: bool, tmp: Path) -> None:
        self.number = number
        self.tag = f"{os.getpid() % 10000}{number}"
        self.namespace = f"wsfleet{self.tag}" if namespaces else None
        self.address = f"10.201.{number}.2" if namespaces else f"127.0.1.{number}"
        self.tmp = tmp
        self.processes: list[WatchedProcess] = []
        self.job = f"job-{number}"

    @property
    def instance(self) -> str:
        return f"{self.address}:{PORT}"

    def run(self, *args: str) -> list[str]:
        return ["ip", "netns", "exec", self.namespace, *args] if self.namespace else list(args)

    def make(self) -> None:
        if self.namespace is None:
            return
        host, peer = f"vws{self.tag}", f"vws{self.tag}p"
        for command in (
            f"ip netns add {self.namespace}",
            f"ip link add {host} type veth peer name {peer}",
            f"ip link set {peer} netns {self.namespace}",
            f"ip addr add 10.201.{self.number}.1/24 dev {host}",
            f"ip link set {host} up",
            f"ip netns exec {self.namespace} ip link set lo up",
            f"ip netns exec {self.namespace} ip addr add {self.address}/24 dev {peer}",
            f"ip netns exec {self.namespace} ip link set {peer} up",
        ):
            subprocess.run(command.split(), check=True, capture_output=True)

    def start(self, tokens: Path) -> None:
        shop = WatchedProcess(
            self.run(
                sys.executable,
                "-m",
                "scrapy_webservice.demo.site",
                "--products",
                "3000",
                "--delay",
                "0.3",
            )
        )
        self.processes.append(shop)
        shop_url = shop.wait_for(r"^(http://127\.0\.0\.1:\d+/)$", timeout=30).group(1)
        settings = {
            "WEBSERVICE_HOST": "0.0.0.0" if self.namespace else self.address,
            "WEBSERVICE_PORT": str(PORT),
            "WEBSERVICE_TOKEN_FILE": str(tokens / "full"),
            "WEBSERVICE_READONLY_TOKEN_FILE": str(tokens / "readonly"),
            "WEBSERVICE_DISCOVERY_DIR": str(self.tmp / f"discovery{self.number}"),
            "WEBSERVICE_PLUGINS_ONLY": "prometheus",
            "CONCURRENT_REQUESTS": "2",
        }
        args = [sys.executable, "-m", "scrapy", "crawl", "demo", "-a", f"url={shop_url}"]
        args += ["-a", f"_job={self.job}"]
        for name, value in settings.items():
            args += ["-s", f"{name}={value}"]
        crawl = WatchedProcess(self.run(*args), cwd=PROJECT)
        self.processes.append(crawl)
        self.crawl = crawl

    def client(self) -> WebServiceClient:
        return WebServiceClient(f"http://{self.instance}/", TOKEN, timeout=5)

    def kill(self) -> None:
        self.crawl.proc.send_signal(signal.SIGKILL)
        self.crawl.proc.wait(timeout=10)

    def remove(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        if self.namespace is not None:
            subprocess.run(["ip", "netns", "del", self.namespace], capture_output=True)
            subprocess.run(["ip", "link", "del", f"vws{self.tag}"], capture_output=True)


def namespaces_possible() -> bool:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        return False
    probe = f"wsprobe{os.getpid() % 100000}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True)
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return made.returncode == 0


def scrapy_ws(prometheus: str, *args: str) -> subprocess.CompletedProcess[str]:
    tokens = Path(os.environ["FLEET_TOKENS"])
    return subprocess.run(
        [
            str(BIN / "scrapy-ws"),
            "--prometheus",
            prometheus,
            "--token-file",
            str(tokens / "full"),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    tokens = tmp_path / "tokens"
    tokens.mkdir()
    (tokens / "full").write_text(TOKEN + "\n")
    (tokens / "readonly").write_text(f"  {READER}\n")
    monkeypatch.setenv("FLEET_TOKENS", str(tokens))
    namespaces = namespaces_possible()
    print(f"fleet machines: {'network namespaces' if namespaces else 'loopback addresses'}")
    machines = [Machine(n, namespaces, tmp_path) for n in range(1, MACHINES + 1)]
    try:
        for machine in machines:
            machine.make()
            machine.start(tokens)
        for machine in machines:
            machine.crawl.wait_for(r"Web service listening on", timeout=60)
        yield machines
    finally:
        for machine in machines:
            machine.remove()


def test_a_fleet_through_prometheus(prometheus_binary, fleet, tmp_path):  # noqa: F811
    targets_file = tmp_path / "targets.json"
    targets_file.write_text(json.dumps([{"targets": [m.instance for m in fleet]}]))
    scrape = {
        "job_name": "crawls",
        "authorization": {
            "type": "Bearer",
            "credentials_file": os.environ["FLEET_TOKENS"] + "/readonly",
        },
        "file_sd_configs": [{"files": [str(targets_file)], "refresh_interval": "1s"}],
    }
    with running_prometheus(prometheus_binary, tmp_path, [scrape]) as base:

        def health() -> dict[str, str]:
            return {
                t["labels"]["instance"]: t["health"] for t in api(base, "targets")["activeTargets"]
            }

        wait_for("every machine scraped", lambda: set(health().values()) == {"up"} and health())

        # status: every spider of the fleet, with its instance.
        status = scrapy_ws(base, "status", "--json")
        assert status.returncode == 0, status.stderr
        rates = json.loads(status.stdout)
        assert sorted(r["instance"] for r in rates.values()) == sorted(m.instance for m in fleet)
        assert {r["spider"] for r in rates.values()} == {"demo"}
        assert all(key.startswith("demo@") for key in rates)

        # Only one scrape job: this one has the crawls, another has nothing.
        assert scrapy_ws(base, "--prometheus-job", "crawls", "list-running").returncode == 0
        other = scrapy_ws(base, "--prometheus-job", "databases", "status")
        assert other.returncode == 3, other.stderr
        assert "no active target of job 'databases'" in other.stderr

        # One spider name in three places: ambiguous, the instances listed.
        ambiguous = scrapy_ws(base, "pause", "demo")
        assert ambiguous.returncode == 5, ambiguous.stderr
        for machine in fleet:
            assert machine.instance in ambiguous.stderr

        # A scrapyd job id reaches its one crawl, and only it.
        target = fleet[1]
        paused = scrapy_ws(base, "pause", target.job, "--json")
        assert paused.returncode == 0, paused.stderr
        assert json.loads(paused.stdout)["state"] in ("pausing", "paused")
        states = {
            m.job: m.client().call("crawler/engine", "state", "demo")["state"] for m in fleet
        }
        assert states[target.job] in ("pausing", "paused")
        assert [s for job, s in states.items() if job != target.job] == ["running", "running"]
        resumed = scrapy_ws(base, "resume", target.job)
        assert resumed.returncode == 0, resumed.stderr
        assert target.client().call("crawler/engine", "state", "demo")["state"] == "running"

        # A killed crawl shows as down, never hidden; the others still answer.
        gone = fleet[2]
        gone.kill()
        wait_for("the killed crawl down", lambda: health()[gone.instance] == "down")
        status = scrapy_ws(base, "status", "--json")
        assert status.returncode == 0, status.stderr
        rates = json.loads(status.stdout)
        assert rates[gone.instance]["state"] == "down"
        alive = {r["instance"] for r in rates.values() if r["state"] != "down"}
        assert alive == {fleet[0].instance, fleet[1].instance}
        text = scrapy_ws(base, "status")
        assert f"{gone.instance}" in text.stdout
        assert "down" in text.stdout
        watcher = subprocess.Popen(
            [
                str(BIN / "scrapy-ws"),
                "--prometheus",
                base,
                "--token-file",
                os.environ["FLEET_TOKENS"] + "/full",
                "watch",
                "--json",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            first = json.loads(watcher.stdout.readline())
        finally:
            watcher.kill()
            watcher.wait(timeout=10)
        assert {r["instance"] for r in first["spiders"].values()} == alive
        assert [gone.instance in text for text in first["down"]] == [True]
        stopped = scrapy_ws(base, "stop", gone.job)
        assert stopped.returncode == 4, stopped.stderr
        assert "down" in stopped.stderr


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1, and its key, as PEM files (for Prometheus's TLS)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert, private = directory / "prometheus.pem", directory / "prometheus.key"
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert, private


def test_a_prometheus_behind_basic_auth_and_tls(prometheus_binary, webservice_crawl, tmp_path):  # noqa: F811
    bcrypt = pytest.importorskip("bcrypt", reason="pip install bcrypt (the plugin's test extra)")
    crawl = webservice_crawl(
        plugins=["prometheus"], settings={"WEBSERVICE_TOKEN": TOKEN}, products=600, delay=0.3
    )
    client = crawl.client
    cert, key = self_signed(tmp_path)
    password = "prometheus-" + "p" * 20
    web = {
        "tls_server_config": {"cert_file": str(cert), "key_file": str(key)},
        "basic_auth_users": {"ops": bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode()},
    }
    instance = client.url.split("//", 1)[1].rstrip("/")
    scrape = {
        "job_name": "crawls",
        "authorization": {"type": "Bearer", "credentials": TOKEN},
        "static_configs": [{"targets": [instance]}],
    }

    def status(*options: str, password: str | None = None) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SCRAPY_WS_")}
        if password is not None:
            env["SCRAPY_WS_PROMETHEUS_PASSWORD"] = password
        return subprocess.run(
            [
                str(BIN / "scrapy-ws"),
                "--prometheus",
                base,
                *options,
                "--token",
                TOKEN,
                "status",
                "--json",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            check=False,
        )

    with running_prometheus(prometheus_binary, tmp_path, [scrape], web) as base:
        trusted = ("--prometheus-user", "ops", "--prometheus-ca", str(cert))

        def scraped() -> dict[str, Any] | None:
            answer = status(*trusted, password=password)
            if answer.returncode != 0:
                return None
            rates = json.loads(answer.stdout)
            return rates if rates.get("demo", {}).get("state") == "running" else None

        rates = wait_for("the crawl through an authenticated HTTPS Prometheus", scraped)
        assert rates["demo"]["instance"] == instance
        refused = status(*trusted, password="wrong")
        assert refused.returncode != 0
        assert "401" in refused.stderr
        untrusted = status("--prometheus-user", "ops", password=password)
        assert untrusted.returncode != 0
        assert "certificate" in untrusted.stderr.lower()
