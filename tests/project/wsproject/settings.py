"""A Scrapy project as a user would have it: the web service on through the add-on."""

BOT_NAME = "wsproject"
SPIDER_MODULES = ["scrapy_webservice.demo.spiders"]
ADDONS = {"scrapy_webservice.Addon": 0}
ROBOTSTXT_OBEY = False
LOG_LEVEL = "INFO"
# Several requests in flight at once, slow enough to watch: tests set the
# shop's own response delay.
CONCURRENT_REQUESTS = 4
WEBSERVICE_PORT = 0
