"""Deprecated: this module moved to :mod:`scrapy_webservice.cli` (the client's names)."""

from .moved import moved

__getattr__ = moved(__name__)
