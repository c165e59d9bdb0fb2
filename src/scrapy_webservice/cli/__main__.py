"""``python -m scrapy_webservice.cli``: ``scrapy-ws`` without its script."""

import sys

from .commands import main

sys.exit(main())
