"""JSON encoding of the values that live Scrapy objects hold.

Stats hold datetimes, sets, bytes and Decimals; engine status holds
deques and tuples. Scrapy's own ``ScrapyJSONEncoder`` covers items and
requests; this encoder adds what stats and resources need and fails loudly
(``TypeError``) on anything else, so that an object is never leaked as its
``repr``.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import decimal
import enum
import json
import math
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import PurePath
from typing import Any

from scrapy.settings import BaseSettings
from scrapy.utils.serialize import ScrapyJSONEncoder

from .secret import Secret

__all__ = ["WebServiceJSONEncoder", "dumps", "strict_encoder"]


class WebServiceJSONEncoder(ScrapyJSONEncoder):
    """Encode Scrapy stats values and resource results as plain JSON.

    ``fallback`` is asked about values no rule here knows (the plugins'
    ``json_default`` hook); it raises ``TypeError`` when it does not know
    them either.
    """

    def __init__(self, *args: Any, fallback: Callable[[Any], Any] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fallback = fallback

    def default(self, o: Any) -> Any:
        if isinstance(o, datetime.datetime):
            return o.isoformat()
        if isinstance(o, (datetime.date, datetime.time)):
            return o.isoformat()
        if isinstance(o, datetime.timedelta):
            return o.total_seconds()
        if isinstance(o, decimal.Decimal):
            return int(o) if o == o.to_integral_value() else float(o)
        if isinstance(o, (set, frozenset)):
            try:
                return sorted(o)
            except TypeError:
                return list(o)
        if isinstance(o, (deque, tuple)):
            return list(o)
        if isinstance(o, (bytes, bytearray, memoryview)):
            raw = bytes(o)
            try:
                return raw.decode("utf-8")
            except UnicodeDecodeError:
                return {"base64": base64.b64encode(raw).decode("ascii")}
        if isinstance(o, enum.Enum):
            return o.value
        if isinstance(o, (uuid.UUID, PurePath)):
            return str(o)
        if isinstance(o, Secret):
            # Tokens live in this type so that nothing holding one is ever answered.
            raise TypeError("a secret is never sent over the web service")
        if isinstance(o, BaseSettings):
            # Settings hold secrets (WEBSERVICE_TOKEN, credentials): never sent whole.
            raise TypeError("Scrapy settings are not sent over the web service")
        if isinstance(o, Mapping):
            return dict(o)
        if dataclasses.is_dataclass(o) and not isinstance(o, type):
            return {
                f.name: getattr(o, f.name)
                for f in dataclasses.fields(o)
                if not f.name.startswith("_")
            }
        try:
            return super().default(o)
        except TypeError:
            if self.fallback is None:
                raise
            return self.fallback(o)


def _finite(value: Any) -> Any:
    """Replace NaN and infinities, which are not JSON, by null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def strict_encoder(fallback: Callable[[Any], Any] | None = None) -> WebServiceJSONEncoder:
    """The compact, strict encoder of :func:`dumps`: build it once, pass it on each call."""
    return WebServiceJSONEncoder(fallback=fallback, allow_nan=False, separators=(",", ":"))


def dumps(
    obj: Any,
    fallback: Callable[[Any], Any] | None = None,
    encoder: WebServiceJSONEncoder | None = None,
) -> str:
    """Encode ``obj`` as compact, strict JSON text (NaN and infinities become null).

    ``encoder``, from :func:`strict_encoder`, saves building one for each call
    (an encoder keeps no state between calls); its fallback is then used.
    """
    if encoder is None:
        encoder = strict_encoder(fallback)
    else:
        fallback = encoder.fallback
    try:
        return encoder.encode(obj)
    except RecursionError:
        # Too deep, or a json_default that keeps returning unknown values.
        raise TypeError("value too deeply nested to encode as JSON") from None
    except ValueError:
        # NaN or infinity somewhere (a rate over zero seconds, say): send null.
        loose = json.dumps(obj, cls=WebServiceJSONEncoder, fallback=fallback)
        return json.dumps(_finite(json.loads(loose)), allow_nan=False, separators=(",", ":"))
