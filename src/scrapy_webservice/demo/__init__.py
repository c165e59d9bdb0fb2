"""The demo: a small local shop site and a spider that crawls it.

``scrapy-ws demo`` runs both in one process with the web service on; the
test suite runs the site alone (``python -m scrapy_webservice.demo.site``)
and crawls it with ``scrapy crawl`` subprocesses.
"""
