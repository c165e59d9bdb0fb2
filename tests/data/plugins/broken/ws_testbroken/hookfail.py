from scrapy_webservice import hookimpl


@hookimpl
def register_resources(settings):
    raise RuntimeError("this hook fails (on purpose)")
