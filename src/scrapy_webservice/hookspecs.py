"""Deprecated: this module moved to :mod:`scrapy_webservice.public.hookspecs`."""

from .moved import moved

__getattr__ = moved(__name__)
