"""``python -m scrapy_webservice.cli``: ``scrapy-ws`` without its script."""

import sys

from .program import main

sys.exit(main())
