"""Every ``WEBSERVICE_*`` setting: its default, and the one place it is read.

Scrapy does not know these settings, so their defaults live here rather
than in Scrapy's ``default_settings``; :func:`WebServiceConfig.from_settings`
is the only code that reads them, so a reader (and the docs test) can find
every setting in one module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

#: Built-in resources, merged first; users drop one with ``None`` in
#: ``WEBSERVICE_RESOURCES``.
WEBSERVICE_RESOURCES_BASE: dict[str, int | None] = {
    "scrapy_webservice.resources.crawler.CrawlerResource": 1,
    "scrapy_webservice.resources.stats.StatsResource": 1,
    "scrapy_webservice.resources.enginestatus.EngineStatusResource": 1,
    "scrapy_webservice.resources.events.EventsResource": 1,
    "scrapy_webservice.resources.plugins.PluginsResource": 1,
    "scrapy_webservice.resources.health.HealthResource": 1,
}

DEFAULTS: dict[str, Any] = {
    "WEBSERVICE_ENABLED": True,
    "WEBSERVICE_PORT": [6080, 7030],
    "WEBSERVICE_HOST": "127.0.0.1",
    "WEBSERVICE_LOGFILE": None,
    "WEBSERVICE_RESOURCES": {},
    "WEBSERVICE_RESOURCES_BASE": WEBSERVICE_RESOURCES_BASE,
    "WEBSERVICE_AUTH_ENABLED": True,
    "WEBSERVICE_TOKEN": None,
    "WEBSERVICE_READONLY_TOKEN": None,
    "WEBSERVICE_ALLOWED_HOSTS": ["127.0.0.1", "localhost", "::1"],
    "WEBSERVICE_CORS_ORIGINS": [],
    "WEBSERVICE_MAX_REQUEST_SIZE": 1024 * 1024,
    "WEBSERVICE_MAX_BATCH_SIZE": 100,
    "WEBSERVICE_TIMEOUT": 60,
    "WEBSERVICE_DEBUG": False,
    "WEBSERVICE_DISCOVERY_DIR": None,
    "WEBSERVICE_PLUGINS": [],
    "WEBSERVICE_PLUGINS_AUTOLOAD": True,
    "WEBSERVICE_PLUGINS_DISABLED": [],
    "WEBSERVICE_PLUGINS_ONLY": None,
    "WEBSERVICE_PLUGINS_STRICT": False,
    "WEBSERVICE_RATES_INTERVAL": 1.0,
    "WEBSERVICE_EVENTS_MAX_CLIENTS": 32,
    "WEBSERVICE_EVENTS_MAX_BUFFER": 256 * 1024,
    "WEBSERVICE_RESPONSE_TIMEOUT": 30,
    "WEBSERVICE_TLS_CERTIFICATE": None,
    "WEBSERVICE_TLS_KEY": None,
    "WEBSERVICE_UNIX_SOCKET": None,
}

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
MIN_RATES_INTERVAL = 0.05
WINDOW_SECONDS = 60.0


def _port_range(value: Any) -> list[int]:
    """Normalise ``WEBSERVICE_PORT`` to the list ``listen_tcp`` expects.

    ``None``, ``0`` and ``[]`` ask for a dynamic port (``[]``); a single
    number is a range of one; a ``"6080-7030"`` or ``"6080,7030"`` string
    (what ``-s`` on the command line gives) is accepted too.
    """
    if value is None or value == 0 or value == "" or value == []:
        return []
    if isinstance(value, int):
        return [value]
    if isinstance(value, str):
        parts = [p for p in value.replace("-", ",").split(",") if p.strip()]
    else:
        parts = list(value)
    try:
        ports = [int(p) for p in parts]
    except (TypeError, ValueError):
        raise ValueError(
            f"WEBSERVICE_PORT must be a port or a [first, last] range, got {value!r}"
        ) from None
    if ports == [0]:
        return []
    if len(ports) > 2 or any(not 0 < p < 65536 for p in ports) or ports[0] > ports[-1]:
        raise ValueError(f"WEBSERVICE_PORT must be a port or a [first, last] range, got {value!r}")
    return ports


def _rates_interval(value: float) -> float:
    """Seconds between stats samples: small enough for live rates, never a busy loop."""
    if not MIN_RATES_INTERVAL <= value <= WINDOW_SECONDS:
        raise ValueError(
            f"WEBSERVICE_RATES_INTERVAL must be between {MIN_RATES_INTERVAL} and"
            f" {WINDOW_SECONDS:g} seconds, got {value!r}"
        )
    return value


@dataclass(frozen=True)
class WebServiceConfig:
    """The web service's settings, read once when the first crawler starts it."""

    enabled: bool = True
    port_range: list[int] = field(default_factory=lambda: [6080, 7030])
    host: str = "127.0.0.1"
    logfile: str | None = None
    resources: dict[Any, int | None] = field(default_factory=dict)
    resources_base: dict[Any, int | None] = field(
        default_factory=lambda: dict(WEBSERVICE_RESOURCES_BASE)
    )
    auth_enabled: bool = True
    token: str | None = None
    readonly_token: str | None = None
    allowed_hosts: tuple[str, ...] = ("127.0.0.1", "localhost", "::1")
    cors_origins: tuple[str, ...] = ()
    max_request_size: int = 1024 * 1024
    max_batch_size: int = 100
    timeout: float = 60
    debug: bool = False
    discovery_dir: str | None = None
    plugins: tuple[str, ...] = ()
    plugins_autoload: bool = True
    plugins_disabled: tuple[str, ...] = ()
    plugins_only: tuple[str, ...] | None = None
    plugins_strict: bool = False
    rates_interval: float = 1.0
    events_max_clients: int = 32
    events_max_buffer: int = 256 * 1024
    response_timeout: float = 30
    tls_certificate: str | None = None
    tls_key: str | None = None
    unix_socket: str | None = None

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> WebServiceConfig:
        def get(name: str) -> Any:
            # Not settings.get(name, default): that turns an explicit None
            # (``WEBSERVICE_PORT = None``: a dynamic port) into the default.
            return settings[name] if name in settings else DEFAULTS[name]

        def getbool(name: str) -> bool:
            return settings.getbool(name, DEFAULTS[name])

        def getfloat(name: str) -> float:
            return settings.getfloat(name, DEFAULTS[name])

        def getlist(name: str) -> tuple[str, ...]:
            return tuple(settings.getlist(name, DEFAULTS[name]))

        def getdict(name: str) -> dict[Any, int | None]:
            value = settings.get(name)
            if value is None:
                return dict(DEFAULTS[name])
            return dict(settings.getdict(name))

        return cls(
            enabled=getbool("WEBSERVICE_ENABLED"),
            port_range=_port_range(get("WEBSERVICE_PORT")),
            host=str(
                DEFAULTS["WEBSERVICE_HOST"]
                if get("WEBSERVICE_HOST") is None
                else get("WEBSERVICE_HOST")
            ),
            logfile=get("WEBSERVICE_LOGFILE") or None,
            resources=getdict("WEBSERVICE_RESOURCES"),
            resources_base=getdict("WEBSERVICE_RESOURCES_BASE"),
            auth_enabled=getbool("WEBSERVICE_AUTH_ENABLED"),
            token=get("WEBSERVICE_TOKEN") or None,
            readonly_token=get("WEBSERVICE_READONLY_TOKEN") or None,
            allowed_hosts=getlist("WEBSERVICE_ALLOWED_HOSTS"),
            cors_origins=getlist("WEBSERVICE_CORS_ORIGINS"),
            max_request_size=settings.getint(
                "WEBSERVICE_MAX_REQUEST_SIZE", DEFAULTS["WEBSERVICE_MAX_REQUEST_SIZE"]
            ),
            max_batch_size=settings.getint(
                "WEBSERVICE_MAX_BATCH_SIZE", DEFAULTS["WEBSERVICE_MAX_BATCH_SIZE"]
            ),
            timeout=settings.getfloat("WEBSERVICE_TIMEOUT", DEFAULTS["WEBSERVICE_TIMEOUT"]),
            debug=getbool("WEBSERVICE_DEBUG"),
            discovery_dir=get("WEBSERVICE_DISCOVERY_DIR") or None,
            plugins=getlist("WEBSERVICE_PLUGINS"),
            plugins_autoload=getbool("WEBSERVICE_PLUGINS_AUTOLOAD"),
            plugins_disabled=getlist("WEBSERVICE_PLUGINS_DISABLED"),
            plugins_only=None
            if get("WEBSERVICE_PLUGINS_ONLY") is None
            else getlist("WEBSERVICE_PLUGINS_ONLY"),
            plugins_strict=getbool("WEBSERVICE_PLUGINS_STRICT"),
            rates_interval=_rates_interval(getfloat("WEBSERVICE_RATES_INTERVAL")),
            events_max_clients=settings.getint(
                "WEBSERVICE_EVENTS_MAX_CLIENTS", DEFAULTS["WEBSERVICE_EVENTS_MAX_CLIENTS"]
            ),
            events_max_buffer=settings.getint(
                "WEBSERVICE_EVENTS_MAX_BUFFER", DEFAULTS["WEBSERVICE_EVENTS_MAX_BUFFER"]
            ),
            response_timeout=getfloat("WEBSERVICE_RESPONSE_TIMEOUT"),
            tls_certificate=get("WEBSERVICE_TLS_CERTIFICATE") or None,
            tls_key=get("WEBSERVICE_TLS_KEY") or None,
            unix_socket=get("WEBSERVICE_UNIX_SOCKET") or None,
        )._checked()

    def _checked(self) -> WebServiceConfig:
        if bool(self.tls_certificate) != bool(self.tls_key):
            raise ValueError(
                "WEBSERVICE_TLS_CERTIFICATE and WEBSERVICE_TLS_KEY go together:"
                " set both or neither"
            )
        if self.unix_socket and self.tls_certificate:
            raise ValueError("WEBSERVICE_UNIX_SOCKET and TLS do not go together: choose one")
        if self.response_timeout <= 0:
            raise ValueError(
                f"WEBSERVICE_RESPONSE_TIMEOUT must be positive, got {self.response_timeout!r}"
            )
        return self

    @property
    def scheme(self) -> str:
        if self.unix_socket:
            return "http+unix"
        return "https" if self.tls_certificate else "http"

    @property
    def listens_on_loopback(self) -> bool:
        """Only this machine can connect (a Unix socket counts: its file mode decides who)."""
        return (
            bool(self.unix_socket) or self.host in LOOPBACK_HOSTS or self.host.startswith("127.")
        )
