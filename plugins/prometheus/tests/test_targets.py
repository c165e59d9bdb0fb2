"""``scrapy-ws-prometheus-targets``: discovery files to a Prometheus file_sd target file."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from scrapy_webservice.rpc.discovery import write_discovery_file

from scrapy_webservice_prometheus.targets import GONE_SINCE, targets, with_gone, write_targets


def test_running_services_become_targets_without_their_tokens(tmp_path):
    directory = tmp_path / "discovery"
    write_discovery_file(directory, {"url": "http://127.0.0.1:6081/", "token": "secret"})
    output = tmp_path / "sd" / "targets.json"
    groups = write_targets(output, directory)
    assert groups == [{"targets": ["127.0.0.1:6081"], "labels": {"pid": str(os.getpid())}}]
    assert json.loads(output.read_text()) == groups
    assert "secret" not in output.read_text()


def test_a_dead_process_is_no_target(tmp_path):
    directory = tmp_path / "discovery"
    path = write_discovery_file(directory, {"url": "http://127.0.0.1:6081/", "token": "t"})
    info = json.loads(path.read_text())
    info["pid"] = 2**22 + 1  # no such process
    path.write_text(json.dumps(info))
    assert targets(directory) == []


def test_the_command_writes_the_file(tmp_path):
    output = tmp_path / "targets.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "scrapy_webservice_prometheus.targets",
            str(output),
            "--dir",
            str(tmp_path / "none"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "0 crawl(s) written" in result.stdout
    assert "0 gone" in result.stdout
    assert json.loads(output.read_text()) == []


def test_a_vanished_crawl_stays_a_target_for_the_grace_period(tmp_path):
    directory = tmp_path / "discovery"
    path = write_discovery_file(directory, {"url": "http://127.0.0.1:6081/", "token": "t"})
    output = tmp_path / "targets.json"
    [alive] = write_targets(output, directory)
    assert GONE_SINCE not in alive["labels"]
    path.unlink()  # the process died: its discovery file is gone (or removed as stale)
    [gone] = write_targets(output, directory)
    assert gone["targets"] == ["127.0.0.1:6081"]
    assert gone["labels"]["pid"] == alive["labels"]["pid"]
    since = float(gone["labels"][GONE_SINCE])
    # Rewritten later: the same "since", until the grace period is over.
    previous = json.loads(output.read_text())
    assert with_gone([], previous, grace=600, now=since + 599) == previous
    assert with_gone([], previous, grace=600, now=since + 600) == []
    assert write_targets(output, directory, grace=0) == []
