"""{{ cookiecutter.description }}.

scrapy-webservice imports this module through the ``scrapy_webservice``
entry point and calls its hook implementations.
"""

from scrapy_webservice import hookimpl

__version__ = "0.1.0"


@hookimpl
def register_resources(settings):
    """Mount the resource: ``{class path: order}``.

    A project turns it off with ``WEBSERVICE_RESOURCES = {path: None}``, or
    the whole plugin with ``WEBSERVICE_PLUGINS_DISABLED = ["{{ cookiecutter.plugin_name }}"]``.
    Read your own settings from ``settings`` here if the plugin has any.
    """
    return {"{{ cookiecutter.__package }}.resource.{{ cookiecutter.__camel_name }}Resource": 500}
