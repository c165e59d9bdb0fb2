"""The public API: what resources and plugins build on.

``WebServiceAPI`` (:mod:`.public`) with the running crawls, the event bus,
the log and the service's facts; the hook specifications; the resource base
classes ``JsonResource`` and ``JsonRpcResource``; the settings as read at
start. Imports :mod:`scrapy_webservice.rpc` and :mod:`scrapy_webservice.adapter`,
never the server: the service reaches the API through what it hands over.
Plugins import these names from ``scrapy_webservice`` itself.
"""
