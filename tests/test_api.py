"""The public API as resources and clients meet it.

Read-only methods by ``GET`` with query params, domain errors mapped in one
place, tokens that no answer can carry, declared exposure, and crawls
addressed by crawl id when two crawlers run one spider.
"""

from __future__ import annotations

import pytest
import pytest_twisted
from scrapy.settings import Settings
from scrapy.utils.test import get_crawler
from twisted.internet import reactor, task, threads

from scrapy_webservice import (
    JsonResource,
    JsonRpcResource,
    NoSuchSpider,
    Secret,
    WebService,
    control,
    data,
    readonly,
)
from scrapy_webservice.cli.client import JsonRpcError, WebServiceClient, WebServiceError
from scrapy_webservice.demo.site import listen
from scrapy_webservice.demo.spiders import DemoSpider
from scrapy_webservice.public.settings import WebServiceConfig
from scrapy_webservice.rpc.encoding import dumps
from scrapy_webservice.server.service import current_service


class Tally:
    def __init__(self) -> None:
        self.count = 0
        self.hidden_but_public = "not declared"

    @readonly
    def total(self, values: list[int], start: int = 0) -> int:
        """Sum ``values`` from ``start``."""
        return start + sum(values)

    @readonly
    def echo(self, text: str | None = None) -> dict:
        return {"text": text}

    @readonly
    def lookup(self, spider: str) -> str:
        raise NoSuchSpider(f"No running spider named {spider!r}")

    @control
    def bump(self) -> int:
        self.count += 1
        return self.count

    @data
    def summary(self) -> dict:
        """Data: ``GET tally/summary`` answers it."""
        return {"count": self.count}


TALLY = Tally()


class TallyResource(JsonRpcResource):
    ws_name = "tally"

    def get_target(self):
        return TALLY


class LeakyResource(JsonResource):
    """Tries to answer the service's configuration, which holds the token."""

    ws_name = "leaky"

    def render_GET(self, txrequest):
        return {"config": self.api.config}


def start(webservice, **settings):
    settings.setdefault("WEBSERVICE_RESOURCES", {TallyResource: 10, LeakyResource: 11})
    return webservice(**settings)


@pytest_twisted.ensureDeferred
async def test_read_only_methods_answer_get_with_query_params(webservice):
    served = start(webservice)
    answer = await served.get("tally/total?values=[1,2,3]&start=10")
    assert (answer.status, answer.json) == (200, 16)
    assert (await served.get("tally/echo?text=hello")).json == {"text": "hello"}
    assert (await served.get("tally/echo?text=null")).json == {"text": None}
    assert (await served.get("tally/echo?text=42")).status == 400  # JSON 42 is no string
    assert (await served.get("tally/echo")).json == {"text": None}
    # What POST says as -32602, GET says as a 400 with the same message.
    bad_get = await served.get("tally/total?values=[1,%22a%22]")
    bad_rpc = await served.rpc("tally", "total", [[1, "a"]])
    assert bad_get.status == 400
    assert bad_rpc.json["error"]["code"] == -32602
    assert bad_get.json["error"]["message"] == bad_rpc.json["error"]["message"]
    twice = await served.get("tally/echo?text=a&text=b")
    assert twice.status == 400
    assert "twice" in twice.json["error"]["message"] or "2 times" in twice.json["error"]["message"]
    unknown = await served.get("tally/total?values=[]&nope=1")
    assert unknown.status == 400


@pytest_twisted.ensureDeferred
async def test_control_methods_stay_post_only(webservice):
    served = start(webservice)
    before = TALLY.count
    refused = await served.get("tally/bump")
    assert refused.status == 405
    assert "control method" in refused.json["error"]["message"]
    assert TALLY.count == before
    assert (await served.rpc("tally", "bump")).json["result"] == before + 1


@pytest_twisted.ensureDeferred
async def test_the_read_only_token_may_get_read_only_methods(webservice):
    served = start(webservice, WEBSERVICE_READONLY_TOKEN="reader-token")
    assert (await served.get("tally/total?values=[2]", token="reader-token")).json == 2
    assert (await served.get("tally/total?values=[2]", token=None)).status == 401


@pytest_twisted.ensureDeferred
async def test_builtin_stats_by_get(webservice):
    served = start(webservice)
    assert (await served.get("stats/get_stats")).json == {}
    assert (await served.get("stats/get_value?key=nothing&default=7")).json == 7
    missing = await served.get("stats/get_stats?spider=nobody")
    assert missing.status == 404
    assert "No running spider named 'nobody'" in missing.json["error"]["message"]


@pytest_twisted.ensureDeferred
async def test_domain_errors_are_mapped_in_one_place(webservice):
    served = start(webservice)
    assert (await served.get("tally/lookup?spider=x")).status == 404
    rpc = await served.rpc("tally", "lookup", ["x"])
    assert rpc.json["error"] == {"code": -32001, "message": "No running spider named 'x'"}
    assert (await served.get("enginestatus/nobody")).status == 404


@pytest_twisted.ensureDeferred
async def test_exposure_is_declared(webservice):
    served = start(webservice)
    assert (await served.get("tally/summary")).json == {"count": TALLY.count}
    # Public, but declared as nothing: not reachable, and not listed.
    assert (await served.get("tally/hidden_but_public")).status == 404
    assert (await served.get("tally/count")).status == 404
    listing = (await served.get("tally")).json
    assert listing["attributes"] == ["summary"]
    assert {m["name"] for m in listing["methods"]} == {"bump", "echo", "lookup", "total"}


def test_the_api_gives_no_token(webservice):
    served = start(webservice, WEBSERVICE_READONLY_TOKEN="reader-secret")
    config = served.api.config
    assert config.token is None
    assert config.readonly_token is None
    assert config.auth_enabled is True
    assert served.service.config.readonly_token is not None  # the service keeps it


@pytest_twisted.ensureDeferred
async def test_no_answer_carries_a_token(webservice):
    served = start(webservice, WEBSERVICE_READONLY_TOKEN="reader-secret")
    leak = await served.get("leaky")
    assert leak.status == 500
    assert served.token not in leak.body.decode()
    assert "reader-secret" not in leak.body.decode()


def test_secrets_refuse_to_be_encoded_or_shown():
    config = WebServiceConfig.from_settings(Settings({"WEBSERVICE_TOKEN": "s3cret-token"}))
    assert isinstance(config.token, Secret)
    assert config.token.reveal() == "s3cret-token"
    assert "s3cret" not in repr(config)
    with pytest.raises(TypeError, match="secret"):
        dumps(config)
    with pytest.raises(TypeError):
        dumps({"nested": [config.token]})


@pytest_twisted.ensureDeferred
async def test_two_crawls_of_one_spider_are_told_apart_by_crawl_id(tmp_path):
    shop_port, shop_url = listen(products=40, delay=0.3)
    settings = {
        "EXTENSIONS": {WebService: 500},
        "WEBSERVICE_PORT": 0,
        "WEBSERVICE_DISCOVERY_DIR": str(tmp_path),
        "CONCURRENT_REQUESTS": 1,
        "ROBOTSTXT_OBEY": False,
    }
    first, second = get_crawler(DemoSpider, settings), get_crawler(DemoSpider, settings)
    try:
        crawls = [first.crawl(url=shop_url), second.crawl(url=shop_url)]
        while current_service() is None or len(current_service().api.crawls()) < 2:
            await task.deferLater(reactor, 0.05, lambda: None)
        service = current_service()
        client = WebServiceClient(service.url, service.token.reveal())
        ids = [crawl.id for crawl in service.api.crawls()]
        assert len(set(ids)) == 2
        assert all(i.startswith("demo~") for i in ids)
        running = await threads.deferToThread(client.get, "crawler/engine/open_spiders")
        assert running == ["demo", "demo"]
        with pytest.raises(JsonRpcError) as ambiguous:
            await threads.deferToThread(client.call, "crawler/engine", "state", "demo")
        assert ambiguous.value.code == -32002
        assert all(i in ambiguous.value.message for i in ids)
        state = await threads.deferToThread(client.call, "crawler/engine", "state", ids[0])
        assert state["crawl_id"] == ids[0]
        status = await threads.deferToThread(client.get, "enginestatus")
        assert sorted(status) == sorted(ids)
        rates = await threads.deferToThread(client.get, f"stats/get_rates?spider={ids[1]}")
        assert rates["crawl_id"] == ids[1]
        with pytest.raises(WebServiceError) as below:
            await threads.deferToThread(client.get, f"enginestatus/{ids[1]}/x")
        assert below.value.status == 404
        # Stop one by its id: the other goes on.
        await threads.deferToThread(client.call, "crawler/engine", "close_spider", ids[0])
        await crawls[0]
        assert first.stats.get_value("finish_reason") == "closed_by_webservice"
        assert [c.id for c in service.api.crawls()] == [ids[1]]
        state = await threads.deferToThread(client.call, "crawler/engine", "state", "demo")
        assert state["crawl_id"] == ids[1]
        await threads.deferToThread(client.call, "crawler/engine", "close_spider", "demo")
        await crawls[1]
    finally:
        await shop_port.stopListening()
    assert current_service() is None


# -- findings of the review: each a test that failed before its fix ------------------


def registry_with(*names: str):
    """A registry holding running crawls of these spider names (stand-in crawlers)."""
    from types import SimpleNamespace

    from scrapy_webservice.public.crawls import Crawl, CrawlRegistry
    from scrapy_webservice.public.events import EventBus

    class Crawler(SimpleNamespace):
        __hash__ = object.__hash__  # hashable, as a real crawler is

    registry = CrawlRegistry(EventBus(), 1.0)
    for number, name in enumerate(names, 1):
        spider = SimpleNamespace(name=name)
        crawler = Crawler(engine=SimpleNamespace(spider=spider), spider=spider)
        monitor = SimpleNamespace(spider_name=name)
        registry.crawlers.append(crawler)
        registry._crawls[crawler] = Crawl(crawler, f"{name}~{number}", monitor)
    return registry


def test_an_id_that_is_also_a_spider_name_is_ambiguous_never_a_guess():
    from scrapy_webservice import AmbiguousSpider

    registry = registry_with("demo", "demo~1")
    with pytest.raises(AmbiguousSpider, match="demo~1, demo~1~2"):
        registry.find("demo~1")
    assert registry.find("demo").id == "demo~1"
    assert registry.find("demo~1~2").spider_name == "demo~1"
    labels = registry_with("demo", "demo", "demo~1").labels()
    assert len(labels) == 3  # every crawl keeps a key of its own


def test_unknown_names_are_clipped_in_errors():
    with pytest.raises(NoSuchSpider) as error:
        registry_with("demo").find("x" * 5000)
    assert len(str(error.value)) < 300


class Descriptors:
    runs = 0

    class Counting:
        def __get__(self, obj, owner=None):
            Descriptors.runs += 1
            return lambda: "ran"

    sneaky = Counting()

    @__import__("functools").cached_property
    def expensive(self):
        Descriptors.runs += 1
        return lambda: "ran"

    @readonly
    def fine(self) -> str:
        return "fine"

    token = Secret("inner-secret-xyz")


class DescriptorsResource(JsonRpcResource):
    ws_name = "descriptors"
    exposed = frozenset({"sneaky", "expensive", "fine", "token"})

    def __init__(self, crawler, target=None):
        super().__init__(crawler, Descriptors())


@pytest_twisted.ensureDeferred
async def test_exposure_never_runs_a_descriptor_and_never_offers_a_secret(webservice):
    served = webservice(WEBSERVICE_RESOURCES={DescriptorsResource: 10})
    listing = (await served.get("descriptors")).json
    assert [m["name"] for m in listing["methods"]] == ["fine"]
    assert (await served.rpc("descriptors", "sneaky")).json["error"]["code"] == -32601
    assert (await served.rpc("descriptors", "expensive")).json["error"]["code"] == -32601
    assert Descriptors.runs == 0
    secret = await served.get("descriptors/token")
    assert secret.status == 404
    assert "inner-secret" not in secret.body.decode()
    assert (await served.rpc("descriptors/token", "reveal")).status in (401, 404)
    assert Descriptors.runs == 0


@pytest_twisted.ensureDeferred
async def test_query_values_that_are_not_json_are_strings(webservice):
    served = start(webservice)
    assert (await served.get("tally/echo?text=NaN")).json == {"text": "NaN"}
    deep = "[" * 5000
    assert (await served.get(f"tally/echo?text={deep}")).json == {"text": deep}
    missing = await served.get(f"stats/get_stats?spider={deep}")
    assert missing.status == 404


def test_events_filter_takes_a_crawl_id():
    from scrapy_webservice.public.events import Event
    from scrapy_webservice.resources.events import EventStream

    stream = EventStream(None, 1000, spiders=frozenset({"demo~2"}))
    assert stream.wants(Event(1, "rates", {"spider": "demo", "crawl_id": "demo~2"}))
    assert not stream.wants(Event(2, "rates", {"spider": "demo", "crawl_id": "demo~1"}))
    assert stream.wants(Event(3, "log", {"spider": None}))
