{%- if cookiecutter.resource_kind == "json" -%}
"""``GET /{{ cookiecutter.ws_name }}``: items scraped so far by each running spider."""

from scrapy_webservice import JsonResource


class {{ cookiecutter.__camel_name }}Resource(JsonResource):
    """A read-only resource: ``render_GET`` returns data, the base class makes it JSON.

    The service checks the token before this code runs, and answers errors
    with JSON (raise ``scrapy_webservice.HttpError(404, "...")`` for a 4xx).
    Never block here: this runs on the crawl's reactor.
    """

    ws_name = "{{ cookiecutter.ws_name }}"

    def render_GET(self, txrequest):
        # self.api is the service's public API: it sees every crawl of the
        # process; self.crawler is the one that started the service.
        return {
            "items": {
                crawl.spider_name: crawl.stats().get("item_scraped_count", 0)
                for crawl in self.api.crawls()
            }
        }
{%- else -%}
"""JSON-RPC ``{{ cookiecutter.ws_name }}``: read item counts, and add notes to a crawl's stats."""

from scrapy_webservice import JsonRpcError, JsonRpcResource, api, control, readonly

INVALID_PARAMS = -32602

NOTES_STAT = "{{ cookiecutter.ws_name }}/notes"


class {{ cookiecutter.__camel_name }}Target:
    """The object whose public methods the resource offers over JSON-RPC.

    Keep it small and explicit: every public method is callable by a client
    with the token. Mark each one ``@readonly`` (the read-only token may call
    it) or ``@control`` (only the full token). Arguments are checked against
    the signature before the call (a wrong call gets error -32602).
    """

    def __init__(self, api):
        self._api = api  # names starting with "_" are never reachable

    @readonly
    def item_count(self, spider: str) -> int:
        """Items scraped so far by a running spider (also ``GET .../item_count?spider=``)."""
        crawl = self._api.crawl(spider)  # NoSuchSpider: error -32001, or a 404 by GET
        return crawl.stats().get("item_scraped_count", 0)

    @control
    def add_note(self, spider: str, note: str) -> list:
        """Add a note to a running spider's stats (it shows in the final stats dump)."""
        if not note.strip():
            # A JSON-RPC error the client can act on; anything else raised
            # becomes a logged "internal error" without details.
            raise JsonRpcError(INVALID_PARAMS, "Invalid params: the note is empty")
        crawler = self._api.crawler_for(spider)
        notes = [*crawler.stats.get_value(NOTES_STAT, []), note]
        crawler.stats.set_value(NOTES_STAT, notes)
        return notes


class {{ cookiecutter.__camel_name }}Resource(JsonRpcResource):
    """JSON-RPC 2.0 over POST on the target; GET lists its methods."""

    ws_name = "{{ cookiecutter.ws_name }}"

    def __init__(self, crawler, target=None):
        # The target is built once, with the service's API (bound before any
        # resource is built): its JSON-RPC dispatcher is then built once too.
        super().__init__(crawler, target or {{ cookiecutter.__camel_name }}Target(api(crawler)))
{%- endif %}
