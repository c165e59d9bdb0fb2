"""Services across machines: tokens from files, and the address a connection arrived on.

A service bound to every interface is tested inside a network namespace of
its own (``unshare --net``), where "every interface" is a loopback with one
more address, so nothing here listens beyond this test.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest
import pytest_twisted
from scrapy.settings import Settings

from scrapy_webservice.public.settings import WebServiceConfig

TOKEN = "fleet-token-" + "f" * 30
READER = "fleet-reader-" + "r" * 30


def test_tokens_are_read_from_files_stripped(tmp_path):
    full, reader = tmp_path / "token", tmp_path / "readonly"
    full.write_text(f"  {TOKEN}\n\n")
    reader.write_text(f"{READER}\n")
    config = WebServiceConfig.from_settings(
        Settings(
            {"WEBSERVICE_TOKEN_FILE": str(full), "WEBSERVICE_READONLY_TOKEN_FILE": str(reader)}
        )
    )
    assert config.token.reveal() == TOKEN
    assert config.readonly_token.reveal() == READER


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "WEBSERVICE_TOKEN_FILE: cannot read {path}: No such file or directory"),
        ("\n  \n", "WEBSERVICE_TOKEN_FILE: {path} is empty"),
        ("two words", "WEBSERVICE_TOKEN_FILE: {path} holds more than one word"),
        ("x" * 5000, "WEBSERVICE_TOKEN_FILE: {path} is longer than 4096 bytes"),
    ],
)
def test_a_token_file_that_is_no_token_is_a_clear_error(tmp_path, content, message):
    path = tmp_path / "token"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ValueError, match="WEBSERVICE_TOKEN_FILE") as caught:
        WebServiceConfig.from_settings(Settings({"WEBSERVICE_TOKEN_FILE": str(path)}))
    assert str(caught.value).startswith(message.format(path=path))
    assert "two words" not in str(caught.value)  # the content is never repeated


@pytest.mark.parametrize("name", ["WEBSERVICE_TOKEN", "WEBSERVICE_READONLY_TOKEN"])
def test_a_token_and_its_file_together_are_refused(tmp_path, name):
    path = tmp_path / "token"
    path.write_text(TOKEN)
    with pytest.raises(ValueError, match=f"{name} and {name}_FILE are both set"):
        WebServiceConfig.from_settings(Settings({name: READER, f"{name}_FILE": str(path)}))


@pytest_twisted.ensureDeferred
async def test_a_service_answers_the_tokens_of_its_files(serve, tmp_path):
    full, reader = tmp_path / "token", tmp_path / "readonly"
    full.write_text(TOKEN + "\n")
    reader.write_text(READER + "\n")
    served = serve(WEBSERVICE_TOKEN_FILE=str(full), WEBSERVICE_READONLY_TOKEN_FILE=str(reader))
    assert served.token == TOKEN
    assert (await served.get("stats/get_stats", token=TOKEN)).status == 200
    assert (await served.get("stats/get_stats", token=READER)).status == 200
    paused = await served.rpc("crawler/engine", "pause", ["demo"], token=READER)
    assert paused.json["error"]["code"] == -32003
    assert (await served.get("stats/get_stats", token="not-" + TOKEN)).status == 401


#: Run inside the namespace: a service on every interface, asked with several Hosts.
ALL_INTERFACES_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from scrapy.utils.reactor import install_reactor
    install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
    from twisted.internet import reactor, threads
    from scrapy_webservice.testing import http, start_service

    TOKEN = sys.argv[1]
    service = start_service(settings={"WEBSERVICE_HOST": "0.0.0.0", "WEBSERVICE_TOKEN": TOKEN})
    port = service.port.getHost().port

    def ask():
        answers = {}
        for address, host in [
            ("10.200.0.1", f"10.200.0.1:{port}"),   # the address it arrived on
            ("10.200.0.1", "10.200.0.1"),
            ("10.200.0.1", "10.200.0.2"),           # another address: not this connection's
            ("10.200.0.1", "evil.example"),
            ("127.0.0.1", "10.200.0.1"),            # arrived on loopback, names the other
            ("127.0.0.1", "localhost"),             # the allowed hosts still work
        ]:
            reply = http(f"http://{address}:{port}/health", headers={"Host": host}, token=TOKEN)
            answers[f"{address} {host}"] = reply.status
        return answers

    def done(answers):
        print(json.dumps(answers), flush=True)
        reactor.stop()

    threads.deferToThread(ask).addBoth(done)
    reactor.run()
    """
)


def test_bound_to_every_interface_the_arrival_address_is_a_host(tmp_path):
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"):
        pytest.skip("needs root, unshare and ip (util-linux, iproute2) for a network namespace")
    script = tmp_path / "all_interfaces.py"
    script.write_text(ALL_INTERFACES_SCRIPT)
    setup = "ip link set lo up && ip addr add 10.200.0.1/32 dev lo"
    run = subprocess.run(
        [
            "unshare",
            "--net",
            "sh",
            "-c",
            f'{setup} && exec "$0" "$@"',
            sys.executable,
            str(script),
            TOKEN,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    answers = json.loads(run.stdout.strip().splitlines()[-1])
    port_host = next(key for key in answers if key.startswith("10.200.0.1 10.200.0.1:"))
    assert answers == {
        port_host: 200,
        "10.200.0.1 10.200.0.1": 200,
        "10.200.0.1 10.200.0.2": 403,
        "10.200.0.1 evil.example": 403,
        "127.0.0.1 10.200.0.1": 403,
        "127.0.0.1 localhost": 200,
    }
