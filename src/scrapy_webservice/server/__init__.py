"""The service: its HTTP front, the checks every request passes, its lifecycle.

The Scrapy extension and add-on, the service shared by a process's crawls,
the site that checks Host, size, token and the reactor's share before any
resource runs, plugin loading and the merge of resources. Imports the
layers below (:mod:`scrapy_webservice.public`, :mod:`scrapy_webservice.rpc`,
:mod:`scrapy_webservice.adapter`); nothing below imports it.
"""
