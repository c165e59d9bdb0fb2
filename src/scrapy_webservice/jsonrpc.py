"""Deprecated: this module moved to :mod:`scrapy_webservice.rpc.dispatch`."""

from .moved import moved

__getattr__ = moved(__name__)
