"""The alerting rules: the shipped file is ``render()``, and promtool checks and tests it.

The promtool tests (``rules/*_test.yml``) are the tests of the alerts'
logic; they need ``promtool`` (Debian package ``prometheus``): skipped with
the command that installs it, failed instead under
``SCRAPY_WS_REQUIRE_PROMETHEUS=1`` (CI).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from scrapy_webservice_prometheus.rules import DEFAULTS, duration_seconds, main, render, rules

RULES = Path(__file__).resolve().parents[1] / "rules"
SHIPPED = RULES / "scrapy.rules.yml"
INSTALL = "apt-get install prometheus (promtool comes with it)"


@pytest.fixture
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        message = f"promtool is needed to check the alerting rules: {INSTALL}"
        if os.environ.get("SCRAPY_WS_REQUIRE_PROMETHEUS"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def run(*args: str | Path, cwd: Path = RULES) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(arg) for arg in args], cwd=cwd, capture_output=True, text=True, timeout=60
    )


def test_the_shipped_rules_are_render_with_the_defaults():
    assert SHIPPED.read_text() == render(), (
        "rules/scrapy.rules.yml is generated: scrapy-ws-prometheus-rules -o rules/scrapy.rules.yml"
    )


def test_the_shipped_rules_pass_promtool_check(promtool):
    result = run(promtool, "check", "rules", SHIPPED)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 4 rules found" in result.stdout


def test_the_promtool_unit_tests_pass(promtool):
    tests = sorted(RULES.glob("*_test.yml"))
    assert tests
    result = run(promtool, "test", "rules", *tests)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAILED" not in result.stdout + result.stderr


def test_rules_rendered_with_seconds_pass_promtool_check(promtool, tmp_path):
    path = tmp_path / "fast.rules.yml"
    path.write_text(
        render(stall="4s", stall_for="1s", error_window="3s", down_for="2s", interval="500ms")
    )
    result = run(promtool, "check", "rules", path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_durations_go_where_they_belong():
    text = render(
        stall="90s",
        stall_for="15s",
        error_rate=2.5,
        error_window="2m",
        error_for="30s",
        ok_reasons=["finished", "closespider_timeout"],
        down_for="45s",
        down_window="2h",
        group="crawls",
        interval="10s",
    )
    [group] = rules(stall="90s")["groups"]
    assert [rule["alert"] for rule in group["rules"]] == [
        "ScrapyCrawlStalled",
        "ScrapyErrorRate",
        "ScrapySpiderClosedAbnormally",
        "ScrapyServiceDown",
    ]
    assert '{state="running"}[90s]) == 1' in text
    assert "time() - scrapy_start_time_seconds > 90\n" in text
    assert "increase(scrapy_response_received_total[90s]) > 0" in text
    assert "for: 15s" in text
    assert '{level="ERROR"}[2m]) * 60 > 2.5' in text
    assert 'reason!~"finished|closespider_timeout"' in text
    assert "last_over_time(scrapy_crawl_info[2h])" in text
    assert "for: 45s" in text
    assert "  - name: crawls\n    interval: 10s\n" in text
    assert "interval" not in render().split("groups:")[1]


@pytest.mark.parametrize(
    "parameters",
    [
        {"stall": "10"},
        {"stall": "ten minutes"},
        {"stall": "0s"},
        {"down_for": ""},
        {"error_rate": -1},
        {"ok_reasons": []},
        {"ok_reasons": ['finished"}']},
    ],
)
def test_wrong_parameters_are_refused(parameters):
    with pytest.raises(ValueError, match=r"\S"):
        render(**parameters)


def test_an_unknown_parameter_is_refused():
    with pytest.raises(TypeError, match="stal"):
        render(stal="10m")


def test_durations():
    assert duration_seconds("1h30m") == 5400
    assert duration_seconds("500ms") == 0.5
    assert duration_seconds("2d") == 172800
    with pytest.raises(ValueError, match="duration"):
        duration_seconds("1.5m")


def test_the_console_script_writes_the_rules(tmp_path, capsys):
    output = tmp_path / "scrapy.yml"
    assert main(["-o", str(output)]) == 0
    assert output.read_text() == render()
    assert main(["--stall", "5s", "--ok-reason", "finished", "--ok-reason", "cancelled"]) == 0
    expected = render(stall="5s", ok_reasons=["finished", "cancelled"])
    assert capsys.readouterr().out == expected
    with pytest.raises(SystemExit):
        main(["--down-for", "soon"])
    assert "not a Prometheus duration" in capsys.readouterr().err


def test_the_module_runs_as_a_script():
    result = run(sys.executable, "-m", "scrapy_webservice_prometheus.rules", "--stall", "3m")
    assert result.returncode == 0, result.stderr
    assert result.stdout == render(stall="3m")
    assert set(DEFAULTS) >= {"stall", "error_rate", "down_for"}
