"""The distribution: its wheel carries the page's files, the entry point and the classifier."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

from scrapy_webservice_dashboard.resource import ASSETS, PAGE

ROOT = Path(__file__).resolve().parent.parent


def test_entry_point_names_the_plugin():
    [entry_point] = [
        ep
        for ep in metadata.entry_points(group="scrapy_webservice")
        if ep.value == "scrapy_webservice_dashboard"
    ]
    assert entry_point.name == "dashboard"
    assert entry_point.dist.name == "scrapy-webservice-dashboard"


def test_the_wheel_holds_the_page_files(tmp_path: Path):
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "src", source / "src", ignore=shutil.ignore_patterns("*.egg-info", "__pycache__")
    )
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheels), "."],
        cwd=source,
        check=True,
        timeout=300,
    )
    [wheel] = wheels.glob("scrapy_webservice_dashboard-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        info = next(n for n in names if n.endswith(".dist-info/METADATA"))
        meta = archive.read(info).decode()
        entry_points = archive.read(info.replace("METADATA", "entry_points.txt")).decode()
    for name in (PAGE, *ASSETS):
        assert f"scrapy_webservice_dashboard/static/{name}" in names
    assert "Classifier: Framework :: Scrapy" in meta
    assert "[scrapy_webservice]\ndashboard = scrapy_webservice_dashboard" in entry_points
