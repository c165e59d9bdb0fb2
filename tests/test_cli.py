"""``scrapy-ws`` as a script sees it: output, exit codes, flags and environment."""

from __future__ import annotations

import json
import subprocess

import pytest_twisted
from twisted.internet import threads

from scrapy_webservice import cli

from .conftest import free_port_holder
from .processes import scrapy_ws


def test_help_lists_the_seed_commands():
    result = scrapy_ws("help")
    assert result.returncode == 0
    for command in (
        "stop <spider>",
        "list-available",
        "list-running",
        "list-resources",
        "get-global-stats",
        "get-spider-stats <spider>",
    ):
        assert command in result.stdout


def test_usage_errors_exit_2():
    result = scrapy_ws("no-such-command")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def test_no_service_found_exits_3_with_one_line():
    result = scrapy_ws("list-running")
    assert result.returncode == 3
    assert result.stderr.count("\n") == 1
    assert "no running web service found" in result.stderr


def test_unreachable_service_exits_3():
    holder = free_port_holder()
    port = holder.getsockname()[1]
    holder.close()  # now nothing listens there
    result = scrapy_ws("--url", f"http://127.0.0.1:{port}", "--token", "x", "list-running")
    assert result.returncode == 3
    assert "cannot reach the web service" in result.stderr


@pytest_twisted.ensureDeferred
async def test_flags_environment_and_json_output(serve, capsys, monkeypatch):
    served = serve(WEBSERVICE_DISCOVERY_DIR=None)  # the per-user directory of this test

    async def main(*argv: str) -> tuple[int, str, str]:
        code = await threads.deferToThread(cli.main, list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    code, out, err = await main("--url", served.url, "--token", served.token, "list-resources")
    assert (code, out.split()) == (
        0,
        ["crawler", "stats", "enginestatus", "events", "plugins", "health"],
    ), err

    code, out, err = await main("--url", served.url, "--token", "wrong", "list-resources")
    assert code == 1
    assert err.startswith("scrapy-ws: HTTP 401: Missing or wrong token")

    monkeypatch.setenv("SCRAPY_WS_TOKEN", served.token)
    port = served.url.rstrip("/").rsplit(":", 1)[1]
    code, out, err = await main("--json", "-H", "127.0.0.1", "-P", port, "list-running")
    assert (code, json.loads(out)) == (0, [])

    # no flags at all: the discovery file gives URL and token
    monkeypatch.delenv("SCRAPY_WS_TOKEN")
    code, out, err = await main("--json", "token")
    assert json.loads(out) == {"url": served.url, "token": served.token}

    code, out, err = await main("stop", "nope")
    assert code == 4
    assert "error -32001: No running spider named 'nope'" in err


def test_shell_completion_completes_commands():
    script = scrapy_ws("completion", "bash")
    assert script.returncode == 0
    completed = subprocess.run(
        [
            "bash",
            "-c",
            "source /dev/stdin; COMP_WORDS=(scrapy-ws pa); COMP_CWORD=1; _shtab_scrapy_ws;"
            ' echo "${COMPREPLY[@]}"',
        ],
        input=script.stdout,
        capture_output=True,
        text=True,
        check=True,
    )
    assert completed.stdout.split() == ["pause"]
    assert scrapy_ws("completion", "fish").returncode == 2
