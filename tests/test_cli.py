"""``scrapy-ws`` as a script sees it: output, exit codes, flags and environment."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
from pathlib import Path

import pytest_twisted
from twisted.internet import threads

from scrapy_webservice.cli import commands, program

from .conftest import free_port_holder
from .processes import BIN, scrapy_ws


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
        code = await threads.deferToThread(program.main, list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    code, out, err = await main("--url", served.url, "--token", served.token, "list-resources")
    assert (code, out.split()) == (
        0,
        [
            "crawler",
            "stats",
            "enginestatus",
            "events",
            "plugins",
            "health",
            "memory",
            "log",
            "stalls",
        ],
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


def test_global_options_work_after_the_command():
    parse = program.build_parser().parse_args
    args = parse(["resume", "demo", "--pid", "42"])
    assert (args.command, args.spider, args.pid) == ("resume", "demo", 42)
    args = parse(["status", "--json"])
    assert (args.json, args.timeout, args.url) == (True, 10.0, None)
    # given before, not repeated after: kept
    args = parse(["--timeout", "5", "--json", "status", "demo"])
    assert (args.timeout, args.json, args.spider) == (5.0, True, "demo")
    # get/call: the resource path is a positional, and --path the global prefix
    args = parse(["get", "enginestatus/demo", "-p", "ws", "--token", "t"])
    assert (args.resource, args.path, args.token) == ("enginestatus/demo", "ws", "t")
    args = parse(["call", "stats", "get_value", "x", "0", "--url", "http://h:1"])
    assert (args.resource, args.method, args.params, args.url) == (
        "stats",
        "get_value",
        ["x", "0"],
        "http://h:1",
    )


def test_scrapy_ws_pid_environment(monkeypatch):
    monkeypatch.setenv("SCRAPY_WS_PID", "4242")
    assert program.build_parser().parse_args(["token"]).pid == 4242
    assert program.build_parser().parse_args(["token", "--pid", "7"]).pid == 7


def test_global_options_after_a_plugin_command_are_taken_up_to_a_double_dash():
    args = argparse.Namespace(url=None, json=False, timeout=3.0, pid=None)  # "--timeout 3 mcp"
    argv = program.split_plugin_argv(["--read-only", "--url", "http://h:1", "--json", "x"], args)
    assert argv == ["--read-only", "x"]
    assert (args.url, args.json, args.timeout) == ("http://h:1", True, 3.0)
    argv = program.split_plugin_argv(["--pid", "9", "--", "--json", "-p", "1"], args)
    assert (argv, args.pid) == (["--", "--json", "-p", "1"], 9)


def test_one_exit_code_table_in_help_and_docs():
    documented = {}
    text = (Path(__file__).parent.parent / "docs" / "cli.md").read_text()
    section = text.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    for code, meaning in re.findall(r"^\| `(\d+)` \| (.+?) \|$", section, re.MULTILINE):
        documented[int(code)] = meaning
    assert documented == commands.EXIT_CODES
    help_text = " ".join(scrapy_ws("--help").stdout.split())
    for code, meaning in commands.EXIT_CODES.items():
        assert f"{code} {meaning}" in help_text


def test_a_reader_that_closes_the_pipe_gets_no_traceback():
    # scrapy-ws's own output exits 141. argparse's --help swallows the error
    # on newer Pythons (exit 0); on 3.10 the error reaches scrapy-ws (141).
    argparse_help = {0, commands.EXIT_BROKEN_PIPE}
    for args, codes in (
        (["help"], {commands.EXIT_BROKEN_PIPE}),
        (["completion", "bash"], {commands.EXIT_BROKEN_PIPE}),
        (["--help"], argparse_help),
        (["status", "--help"], argparse_help),
    ):
        read, write = os.pipe()
        os.close(read)  # closed before the first write
        try:
            result = subprocess.run(
                [str(BIN / "scrapy-ws"), *args],
                stdout=write,
                stderr=subprocess.PIPE,
                text=True,
                timeout=30,
                check=False,
            )
        finally:
            os.close(write)
        assert result.returncode in codes, (args, result.returncode)
        assert result.stderr == "", args


def test_a_pipe_closed_after_the_first_line_gets_no_traceback():
    result = subprocess.run(
        ["bash", "-c", f"'{BIN / 'scrapy-ws'}' --help | head -1"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.stdout.startswith("usage: scrapy-ws")
    assert result.stderr == ""


@pytest_twisted.ensureDeferred
async def test_get_prints_a_text_resource_as_it_is(serve, capsys):
    from .test_http import Text

    served = serve(WEBSERVICE_RESOURCES={Text: 1})
    code = await threads.deferToThread(
        program.main, ["get", "text", "--url", served.url, "--token", served.token]
    )
    out, err = capsys.readouterr()
    assert (code, out, err) == (0, "# not json\nvalue 1\n", "")
    code = await threads.deferToThread(
        program.main, ["get", "health", "--url", served.url, "--json"]
    )
    out, err = capsys.readouterr()
    assert (code, json.loads(out)) == (0, {"status": "ok", "pid": os.getpid()})


@pytest_twisted.ensureDeferred
async def test_the_token_from_a_file(serve, capsys, tmp_path):
    served = serve()
    token_file = tmp_path / "token"
    token_file.write_text(f"\n  {served.token}\n")

    async def main(*argv: str) -> tuple[int, str, str]:
        code = await threads.deferToThread(program.main, list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    code, out, err = await main("--url", served.url, "--token-file", str(token_file), "token")
    assert (code, out.strip()) == (0, served.token), err
    code, out, err = await main("--url", served.url, "list-resources", "--token-file", "/nope")
    assert code == 2
    assert "--token-file: cannot read /nope: No such file or directory" in err
