"""Everything that reads Scrapy: the only package that touches its private attributes.

:mod:`.internals` reads what Scrapy keeps private (the engine's slot, the
downloader's slots, the scheduler's queues), tested on every supported
Scrapy version; :mod:`.consoles` knows Scrapy's code-running consoles.
Imports only :mod:`scrapy_webservice.rpc` of the package.
"""
