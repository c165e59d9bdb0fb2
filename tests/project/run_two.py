"""Two crawlers in one process: one web service must show both."""

import sys

from scrapy.crawler import CrawlerProcess
from scrapy.utils.project import get_project_settings

from scrapy_webservice.demo.spiders import DemoSpider, OtherDemoSpider

url = sys.argv[1]
process = CrawlerProcess(get_project_settings())
process.crawl(DemoSpider, url=url)
process.crawl(OtherDemoSpider, url=url)
process.start()
