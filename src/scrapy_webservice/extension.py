"""Deprecated: this module moved to :mod:`scrapy_webservice.server.extension`."""

from .moved import moved

__getattr__ = moved(__name__)
