"""Every ``WEBSERVICE_*`` setting, in one table: name, default, parser, attribute, doc.

Scrapy does not know these settings, so their defaults live here rather
than in Scrapy's ``default_settings``. Everything else is made from
:data:`SETTINGS`, so that nothing can drift: :data:`DEFAULTS`,
:meth:`WebServiceConfig.from_settings` (the only code that reads these
settings), the markdown table of the docs and the README
(:func:`markdown_table`, compared with them by the test suite) and the
warning about a misspelt name (:func:`warn_unknown_settings`).

A parser reads one setting with Scrapy's semantics (``getbool``,
``getint``, ``getfloat``, ``getlist``, ``getdict``: what ``scrapy crawl -s
NAME=VALUE`` gives is a string) and raises a ``ValueError`` naming the
setting when the value cannot work; the extension logs it and the crawl goes
on without the service.

Longer than the package's other modules on purpose: the table is the one
place a setting is declared, and its rows (about forty settings, each with
its doc text) would only be spread over files by a split.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import math
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..rpc.secret import Secret, read_secret_file

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings

logger = logging.getLogger(__name__)

PREFIX = "WEBSERVICE_"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
MIN_RATES_INTERVAL = 0.05
WINDOW_SECONDS = 60.0

#: Built-in resources, merged first; users drop one with ``None`` in
#: ``WEBSERVICE_RESOURCES``.
WEBSERVICE_RESOURCES_BASE: dict[str, int | None] = {
    "scrapy_webservice.resources.crawler.CrawlerResource": 1,
    "scrapy_webservice.resources.stats.StatsResource": 1,
    "scrapy_webservice.resources.enginestatus.EngineStatusResource": 1,
    "scrapy_webservice.resources.events.EventsResource": 1,
    "scrapy_webservice.resources.plugins.PluginsResource": 1,
    "scrapy_webservice.resources.health.HealthResource": 1,
    "scrapy_webservice.resources.memory.MemoryResource": 1,
    "scrapy_webservice.resources.log.LogResource": 1,
    "scrapy_webservice.resources.stalls.StallsResource": 1,
}

#: Reads setting ``name`` from the settings (``default`` when it is not set)
#: and returns the value the service uses, or raises ``ValueError`` naming it.
Parser = Callable[["BaseSettings", str, Any], Any]


# -- parsers ------------------------------------------------------------------------


def _given(settings: BaseSettings, name: str, default: Any) -> Any:
    """The value as set, an explicit ``None`` included (``settings.get`` replaces it)."""
    # Not settings.get(name, default): ``WEBSERVICE_PORT = None`` is a dynamic port.
    return settings[name] if name in settings else default  # noqa: SIM401


def _refused(name: str, expected: str, value: Any) -> ValueError:
    """The one shape of a parser's error: the setting, what it takes, what it got."""
    return ValueError(f"{name} must be {expected}, got {value!r}")


def boolean(settings: BaseSettings, name: str, default: bool) -> bool:
    """Scrapy's ``getbool``: ``True``/``False``, ``1``/``0`` and their strings."""
    try:
        return settings.getbool(name, default)
    except (TypeError, ValueError):
        raise _refused(name, "True or False (or 1/0, 'true'/'false')", settings[name]) from None


def integer(minimum: int) -> Parser:
    """Scrapy's ``getint``, and at least ``minimum``: a count or a size cannot be negative."""

    def parse(settings: BaseSettings, name: str, default: int) -> int:
        try:
            value = settings.getint(name, default)
        except (TypeError, ValueError):
            raise _refused(name, "an integer", settings[name]) from None
        if value < minimum:
            raise _refused(name, f"at least {minimum}", value)
        return value

    return parse


def seconds(between: tuple[float, float] | None = None) -> Parser:
    """Scrapy's ``getfloat``: a positive duration, or one ``between`` two bounds."""

    def parse(settings: BaseSettings, name: str, default: float) -> float:
        try:
            value = settings.getfloat(name, default)
        except (TypeError, ValueError):
            raise _refused(name, "a number of seconds", settings[name]) from None
        if between is None:
            if not value > 0:  # NaN too
                raise ValueError(f"{name} must be positive, got {value!r}")
        elif not between[0] <= value <= between[1]:
            raise ValueError(
                f"{name} must be between {between[0]:g} and {between[1]:g} seconds, got {value!r}"
            )
        return value

    return parse


def optional_fraction(settings: BaseSettings, name: str, default: float | None) -> float | None:
    """A share of something, above 0 and at most 1; ``None`` (or ``"None"``) for no bound."""
    value = _given(settings, name, default)
    if _none_given(value):
        return None
    try:
        share = float(value)
    except (TypeError, ValueError):
        raise _refused(name, "a fraction above 0 and at most 1, or None", value) from None
    if not 0 < share <= 1:  # NaN too
        raise _refused(name, "a fraction above 0 and at most 1, or None", value)
    return share


def _none_given(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip().lower() in ("none", ""))


def optional_seconds(settings: BaseSettings, name: str, default: float | None) -> float | None:
    """A positive duration; ``None`` (or ``"None"``) to turn off what it times."""
    value = _given(settings, name, default)
    if _none_given(value):
        return None
    try:
        duration = float(value)
    except (TypeError, ValueError):
        raise _refused(name, "a positive number of seconds, or None", value) from None
    if not 0 < duration < math.inf:  # NaN too
        raise _refused(name, "a positive number of seconds, or None", value)
    return duration


def port_range(settings: BaseSettings, name: str, default: list[int]) -> list[int]:
    """Normalise the port setting to the list ``listen_tcp`` expects.

    ``None``, ``0`` and ``[]`` ask for a dynamic port (``[]``); a single
    number is a range of one; a ``"6080-7030"`` or ``"6080,7030"`` string
    (what ``-s`` on the command line gives) is accepted too.
    """
    value = _given(settings, name, default)
    if (
        value is None
        or value == 0
        or value == ""
        or (isinstance(value, (list, tuple)) and not value)
    ):
        return []
    try:
        if isinstance(value, int):
            ports = [value]
        elif isinstance(value, str):
            ports = [int(p) for p in value.replace("-", ",").split(",") if p.strip()]
        else:
            ports = [int(p) for p in value]
    except (TypeError, ValueError):
        ports = None
    if ports == [0]:
        return []
    if (
        not ports
        or len(ports) > 2
        or any(not 0 < p < 65536 for p in ports)
        or ports[0] > ports[-1]
    ):
        raise _refused(name, "a port or a [first, last] range", value)
    return ports


def text(settings: BaseSettings, name: str, default: str) -> str:
    """A string; ``None`` is the default (``""`` is a value: all interfaces)."""
    value = _given(settings, name, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise _refused(name, "a string", value)
    return value


def optional_text(settings: BaseSettings, name: str, default: None) -> str | None:
    """A string, or ``None`` (``""`` too) for unset."""
    value = _given(settings, name, default)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _refused(name, "a string", value)
    return value


def secret(settings: BaseSettings, name: str, default: None) -> Secret | None:
    """A token: a string kept in a :class:`~scrapy_webservice.Secret`, or ``None`` for unset.

    No answer of the service can carry a ``Secret``, so neither can the
    configuration that holds it.
    """
    value = optional_text(settings, name, default)
    return None if value is None else Secret(value)


def optional_path(settings: BaseSettings, name: str, default: None) -> str | None:
    """A file or directory (a ``pathlib.Path`` too, made a string), or ``None`` for unset."""
    value = _given(settings, name, default)
    if value is None or value == "":
        return None
    path = os.fspath(value) if isinstance(value, (str, os.PathLike)) else None
    if not isinstance(path, str) or not path:
        raise _refused(name, "a path", value)
    return path


def strings(settings: BaseSettings, name: str, default: list[str]) -> tuple[str, ...]:
    """Scrapy's ``getlist`` (``-s`` gives ``"a,b"``), made a tuple of strings."""
    try:
        values = settings.getlist(name, default)
    except TypeError:
        values = None
    if values is None or not all(isinstance(v, str) for v in values):
        raise _refused(name, "a list of strings or a comma-separated string", settings[name])
    return tuple(values)


def optional_strings(
    settings: BaseSettings, name: str, default: list[str] | None
) -> tuple[str, ...] | None:
    """Like :func:`strings`, but ``None`` (the default) means "not set", not "none"."""
    if _given(settings, name, default) is None:
        return None
    return strings(settings, name, [])


def mapping(settings: BaseSettings, name: str, default: dict[Any, Any]) -> dict[Any, Any]:
    """Scrapy's ``getdict`` (``-s`` gives JSON); ``None`` is the default."""
    try:
        return settings.getdict(name, default)
    except (TypeError, ValueError):
        raise _refused(name, "a dict (or its JSON)", settings[name]) from None


# -- the table ------------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    """One row of the table: everything the code and the docs know about a setting."""

    name: str
    default: Any
    parse: Parser
    #: The :class:`WebServiceConfig` attribute the parsed value fills.
    attribute: str
    #: One line for the docs' table; the prose is in docs/settings.md.
    doc: str
    #: The default in words, for a default too long for a table cell.
    default_doc: str | None = None

    def read(self, settings: BaseSettings) -> Any:
        return self.parse(settings, self.name, self.default)

    @property
    def default_markdown(self) -> str:
        if self.default_doc is not None:
            return self.default_doc
        return f"`{python_literal(self.default)}`"


def python_literal(value: Any) -> str:
    """A default as a reader writes it in ``settings.py`` (``"127.0.0.1"``, ``[6080, 7030]``)."""
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(python_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        items = (f"{python_literal(k)}: {python_literal(v)}" for k, v in value.items())
        return "{" + ", ".join(items) + "}"
    return repr(value)


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "WEBSERVICE_ENABLED",
        True,
        boolean,
        "enabled",
        "turn the service off without removing the extension or add-on",
    ),
    Setting(
        "WEBSERVICE_PORT",
        [6080, 7030],
        port_range,
        "port_range",
        "port range tried in order; `None`, `0` or `[]`: any free port",
    ),
    Setting(
        "WEBSERVICE_HOST",
        "127.0.0.1",
        text,
        "host",
        'interface to listen on; `""` or `"0.0.0.0"` for all (only with authentication on)',
    ),
    Setting(
        "WEBSERVICE_LOGFILE",
        None,
        optional_path,
        "logfile",
        "file for the HTTP access log; `None`: Scrapy's log, at DEBUG level",
    ),
    Setting(
        "WEBSERVICE_RESOURCES",
        {},
        mapping,
        "resources",
        "the project's resources, `{class or dotted path: order or None}`;"
        " `None` drops a resource",
    ),
    Setting(
        "WEBSERVICE_RESOURCES_BASE",
        WEBSERVICE_RESOURCES_BASE,
        mapping,
        "resources_base",
        "`crawler`, `stats`, `enginestatus`, `events`, `plugins`, `health`, `memory`, `log`,"
        " `stalls`, each at order 1",
        default_doc="the built-ins",
    ),
    Setting(
        "WEBSERVICE_AUTH_ENABLED",
        True,
        boolean,
        "auth_enabled",
        "require a token; turning it off is refused unless the service listens on loopback",
    ),
    Setting(
        "WEBSERVICE_TOKEN",
        None,
        secret,
        "token",
        "the full-access token; a random one is generated at start when unset",
    ),
    Setting(
        "WEBSERVICE_READONLY_TOKEN",
        None,
        secret,
        "readonly_token",
        "a second token that may only read and call read-only methods",
    ),
    Setting(
        "WEBSERVICE_TOKEN_FILE",
        None,
        optional_path,
        "token_file",
        "read the full-access token from this file at start (surrounding whitespace"
        " stripped), as Kubernetes mounts secrets; not with `WEBSERVICE_TOKEN`",
    ),
    Setting(
        "WEBSERVICE_READONLY_TOKEN_FILE",
        None,
        optional_path,
        "readonly_token_file",
        "read the read-only token from this file at start; not with `WEBSERVICE_READONLY_TOKEN`",
    ),
    Setting(
        "WEBSERVICE_ALLOWED_HOSTS",
        ["127.0.0.1", "localhost", "::1"],
        strings,
        "allowed_hosts",
        'accepted `Host` header names (plus `WEBSERVICE_HOST`); `"*"` accepts any',
    ),
    Setting(
        "WEBSERVICE_CORS_ORIGINS",
        [],
        strings,
        "cors_origins",
        'browser origins (`"https://dash.example"`) allowed to call the service; none by default',
    ),
    Setting(
        "WEBSERVICE_MAX_REQUEST_SIZE",
        1024 * 1024,
        integer(minimum=1),
        "max_request_size",
        "largest request body, in bytes; larger ones get 413",
    ),
    Setting(
        "WEBSERVICE_MAX_BATCH_SIZE",
        100,
        integer(minimum=1),
        "max_batch_size",
        "most calls in one JSON-RPC batch",
    ),
    Setting(
        "WEBSERVICE_TIMEOUT",
        60,
        seconds(),
        "timeout",
        "seconds an idle HTTP connection is kept open, and the most a request may take to arrive",
    ),
    Setting(
        "WEBSERVICE_DEBUG",
        False,
        boolean,
        "debug",
        "put tracebacks into error answers; never in production",
    ),
    Setting(
        "WEBSERVICE_DISCOVERY_DIR",
        None,
        optional_path,
        "discovery_dir",
        "directory of the discovery files; `None`: the per-user runtime directory",
    ),
    Setting(
        "WEBSERVICE_PLUGINS",
        [],
        strings,
        "plugins",
        "plugin modules of the project, loaded besides installed plugins",
    ),
    Setting(
        "WEBSERVICE_PLUGINS_AUTOLOAD",
        True,
        boolean,
        "plugins_autoload",
        "load the plugins installed through entry points",
    ),
    Setting(
        "WEBSERVICE_PLUGINS_DISABLED",
        [],
        strings,
        "plugins_disabled",
        "plugin names not to load",
    ),
    Setting(
        "WEBSERVICE_PLUGINS_ONLY",
        None,
        optional_strings,
        "plugins_only",
        "when set, load only the plugins named here",
    ),
    Setting(
        "WEBSERVICE_PLUGINS_STRICT",
        False,
        boolean,
        "plugins_strict",
        "a broken plugin raises (fails the crawl) instead of being logged and skipped",
    ),
    Setting(
        "WEBSERVICE_RATES_INTERVAL",
        1.0,
        seconds(between=(MIN_RATES_INTERVAL, WINDOW_SECONDS)),
        "rates_interval",
        "seconds between stats samples for live rates and `rates` events (0.05 to 60)",
    ),
    Setting(
        "WEBSERVICE_EVENTS_MAX_CLIENTS",
        32,
        integer(minimum=0),
        "events_max_clients",
        "most `/events` streams open at once; one more gets 503",
    ),
    Setting(
        "WEBSERVICE_EVENTS_MAX_BUFFER",
        256 * 1024,
        integer(minimum=1),
        "events_max_buffer",
        "bytes of events queued for a slow `/events` client before it is dropped",
    ),
    Setting(
        "WEBSERVICE_RESPONSE_TIMEOUT",
        30,
        seconds(),
        "response_timeout",
        "seconds a resource may take to answer;"
        " then its work is cancelled and the client gets 504",
    ),
    Setting(
        "WEBSERVICE_TLS_CERTIFICATE",
        None,
        optional_path,
        "tls_certificate",
        "PEM certificate file: serve HTTPS (with `WEBSERVICE_TLS_KEY`)",
    ),
    Setting(
        "WEBSERVICE_TLS_KEY",
        None,
        optional_path,
        "tls_key",
        "PEM private key file of that certificate",
    ),
    Setting(
        "WEBSERVICE_LINGER",
        0,
        seconds(between=(0, 86400)),
        "linger",
        "seconds the service goes on answering after the last crawl ended"
        " (`/metrics`, `/health` with each `finish_reason`; 0 to 86400);"
        " two scrape intervals for fleets",
    ),
    Setting(
        "WEBSERVICE_ENQUEUE_SCHEMES",
        None,
        optional_strings,
        "enqueue_schemes",
        "URL schemes `crawler/scheduler.enqueue` accepts;"
        " unset: every scheme Scrapy downloads except `file`",
    ),
    Setting(
        "WEBSERVICE_SETTINGS_REDACT",
        [],
        strings,
        "settings_redact",
        "more setting names whose values `crawler/settings` answers as `<redacted>`",
    ),
    Setting(
        "WEBSERVICE_MAX_SHARE",
        0.1,
        optional_fraction,
        "max_share",
        "most of the reactor's time the service may take (0 to 1); past it, it stops"
        " reading requests until its budget refills; `None`: no bound",
    ),
    Setting(
        "WEBSERVICE_STALL_THRESHOLD",
        0.5,
        optional_seconds,
        "stall_threshold",
        "seconds the reactor may go without running before a `stall` event names the"
        " code that blocked it (a watchdog thread); `None`: no watchdog",
    ),
    Setting(
        "WEBSERVICE_MAX_CONNECTIONS",
        256,
        integer(minimum=1),
        "max_connections",
        "most connections open at once; one more is closed at once",
    ),
    Setting(
        "WEBSERVICE_MAX_CONNECTIONS_PER_ADDRESS",
        128,
        integer(minimum=1),
        "max_connections_per_address",
        "most connections open at once from one client address",
    ),
    Setting(
        "WEBSERVICE_UNIX_SOCKET",
        None,
        optional_path,
        "unix_socket",
        "listen on this Unix socket (mode 0600) instead of TCP",
    ),
)

#: Every setting's default, by name.
DEFAULTS: dict[str, Any] = {setting.name: setting.default for setting in SETTINGS}


def _cell(text: str) -> str:
    """A table cell: a ``|`` in the text would end it."""
    return text.replace("|", "\\|")


def markdown_table() -> str:
    """The settings table of docs/settings.md and README.md, which must be this text."""
    rows = [
        "| setting | default | meaning |",
        "| --- | --- | --- |",
        *(f"| `{s.name}` | {s.default_markdown} | {_cell(s.doc)} |" for s in SETTINGS),
    ]
    return "\n".join(rows) + "\n"


# -- the configuration ------------------------------------------------------------------


@dataclass(frozen=True)
class WebServiceConfig:
    """The web service's settings, read once when the first crawler starts it.

    The fields have no defaults of their own: ``from_settings(Settings())``
    gives the defaults, from the one table.
    """

    enabled: bool
    port_range: list[int]
    host: str
    logfile: str | None
    resources: dict[Any, int | None]
    resources_base: dict[Any, int | None]
    auth_enabled: bool
    token: Secret | None
    readonly_token: Secret | None
    token_file: str | None
    readonly_token_file: str | None
    allowed_hosts: tuple[str, ...]
    cors_origins: tuple[str, ...]
    max_request_size: int
    max_batch_size: int
    timeout: float
    debug: bool
    discovery_dir: str | None
    plugins: tuple[str, ...]
    plugins_autoload: bool
    plugins_disabled: tuple[str, ...]
    plugins_only: tuple[str, ...] | None
    plugins_strict: bool
    rates_interval: float
    events_max_clients: int
    events_max_buffer: int
    response_timeout: float
    tls_certificate: str | None
    tls_key: str | None
    linger: float
    enqueue_schemes: tuple[str, ...] | None
    settings_redact: tuple[str, ...]
    unix_socket: str | None
    max_share: float | None
    stall_threshold: float | None
    max_connections: int
    max_connections_per_address: int

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> WebServiceConfig:
        """Parse every setting of the table; a ``ValueError`` names one that cannot work."""
        return cls(**{s.attribute: s.read(settings) for s in SETTINGS}).validated()

    def validated(self) -> WebServiceConfig:
        """Settings that are each fine but cannot work together; tokens read from files."""
        token = _token_or_file(self.token, self.token_file, "WEBSERVICE_TOKEN")
        readonly_token = _token_or_file(
            self.readonly_token, self.readonly_token_file, "WEBSERVICE_READONLY_TOKEN"
        )
        config = dataclasses.replace(self, token=token, readonly_token=readonly_token)
        if bool(config.tls_certificate) != bool(config.tls_key):
            raise ValueError(
                "WEBSERVICE_TLS_CERTIFICATE and WEBSERVICE_TLS_KEY go together:"
                " set both or neither"
            )
        if config.unix_socket and config.tls_certificate:
            raise ValueError("WEBSERVICE_UNIX_SOCKET and TLS do not go together: choose one")
        return config

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


def _token_or_file(token: Secret | None, path: str | None, name: str) -> Secret | None:
    """The token as set, or read from its ``_FILE`` setting; both set is an error."""
    if path is None:
        return token
    if token is not None:
        raise ValueError(f"{name} and {name}_FILE are both set: use one of them")
    return read_secret_file(f"{name}_FILE", path)


# -- misspelt names -----------------------------------------------------------------------

_SUFFIXES = [s.name.removeprefix(PREFIX) for s in SETTINGS]
_FIRST_WORDS = sorted({suffix.split("_")[0] for suffix in _SUFFIXES})
#: One wrong letter in a word of five (``PLUGIN``, ``RATE``, ``TOKNE``).
_WORD_CUTOFF = 0.8
#: Close enough to a whole name to be a typo of it (``LOG_FILE``, ``READ_ONLY_TOKEN``).
_NAME_CUTOFF = 0.85
#: Close enough to be worth suggesting (difflib's own default).
_SUGGESTION_CUTOFF = 0.6


def _in_a_plugin_namespace(name: str) -> bool:
    """``WEBSERVICE_<PLUGIN>_<NAME>``: a namespace of its own, not a misspelt name of ours.

    Its first word is none of (nor a typo of) the first words of our settings,
    and it is not a typo of one of them as a whole; a single word after the
    prefix is never a namespace.
    """
    suffix = name.removeprefix(PREFIX)
    first, _, rest = suffix.partition("_")
    if not rest or difflib.get_close_matches(first, _FIRST_WORDS, 1, _WORD_CUTOFF):
        return False
    return not difflib.get_close_matches(suffix, _SUFFIXES, 1, _NAME_CUTOFF)


def closest_setting(name: str) -> str | None:
    """The known setting ``name`` most likely misspells, if one is close enough.

    Compared without the common prefix, which would make every name look close.
    """
    matches = difflib.get_close_matches(
        name.removeprefix(PREFIX), _SUFFIXES, 1, _SUGGESTION_CUTOFF
    )
    return PREFIX + matches[0] if matches else None


def unknown_settings(names: Iterable[str]) -> list[str]:
    """A message for each ``WEBSERVICE_*`` name that is no setting of ours nor a plugin's."""
    messages = []
    for name in sorted(names):
        if not name.startswith(PREFIX) or name in DEFAULTS or _in_a_plugin_namespace(name):
            continue
        suggestion = closest_setting(name)
        hint = f"did you mean {suggestion}?" if suggestion else "it is ignored"
        messages.append(f"Unknown setting {name}; {hint}")
    return messages


def warn_unknown_settings(settings: BaseSettings, crawler: Crawler | None = None) -> None:
    """Log a WARNING per misspelt name: a typo would otherwise be silently ignored."""
    extra = {"crawler": crawler} if crawler is not None else None
    for message in unknown_settings(settings):
        logger.warning("%s", message, extra=extra)
