"""JSON encoding of what Scrapy stats and resources hold."""

from __future__ import annotations

import datetime
import decimal
import json
from collections import deque

import pytest

from scrapy_webservice.rpc.encoding import dumps


def test_stats_values_encode():
    start = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    stats = {
        "start_time": start,
        "elapsed": datetime.timedelta(seconds=90),
        "price": decimal.Decimal("1.50"),
        "count": decimal.Decimal("3"),
        "codes": {404, 200},
        "queue": deque([1, 2]),
        "pair": (1, "a"),
        "text": b"caf\xc3\xa9",
        "binary": b"\xff\x00",
        "ratio": float("nan"),
    }
    assert json.loads(dumps(stats)) == {
        "start_time": "2026-01-02T03:04:05+00:00",
        "elapsed": 90.0,
        "price": 1.5,
        "count": 3,
        "codes": [200, 404],
        "queue": [1, 2],
        "pair": [1, "a"],
        "text": "café",
        "binary": {"base64": "/wA="},
        "ratio": None,
    }


def test_unknown_objects_are_refused_not_leaked_as_repr():
    class Secret:
        pass

    with pytest.raises(TypeError):
        dumps({"x": Secret()})


def test_settings_are_never_encoded():
    from scrapy.settings import Settings

    with pytest.raises(TypeError, match="settings"):
        dumps({"settings": Settings({"WEBSERVICE_TOKEN": "secret"})})


def test_dataclass_private_fields_are_left_out():
    import dataclasses

    @dataclasses.dataclass
    class Status:
        state: str
        _secret: str

    assert json.loads(dumps(Status("running", "hidden"))) == {"state": "running"}
