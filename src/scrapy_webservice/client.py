"""Deprecated: this module moved to :mod:`scrapy_webservice.cli.client`."""

from .moved import moved

__getattr__ = moved(__name__)
