#!/usr/bin/env python
"""The seed's extras/scrapy-ws.py (Scrapy 0.24), ported to Python 3.

Kept as close to the original as Python 3 allows, to prove that the
service keeps the seed's URL contract. The only addition is the
Authorization header (``--token``), since the service now requires one.
"""

import json
import sys
from optparse import OptionParser
from urllib.parse import urljoin
from urllib.request import ProxyHandler, Request, build_opener

opener = build_opener(ProxyHandler({}))


def get_commands():
    return {
        "help": cmd_help,
        "stop": cmd_stop,
        "list-available": cmd_list_available,
        "list-running": cmd_list_running,
        "list-resources": cmd_list_resources,
        "get-global-stats": cmd_get_global_stats,
        "get-spider-stats": cmd_get_spider_stats,
    }


def cmd_help(args, opts):
    """help - list available commands"""
    print("Available commands:")
    for _, func in sorted(get_commands().items()):
        print("  ", func.__doc__)


def cmd_stop(args, opts):
    """stop <spider> - stop a running spider"""
    jsonrpc_call(opts, "crawler/engine", "close_spider", args[0])


def cmd_list_running(args, opts):
    """list-running - list running spiders"""
    for x in json_get(opts, "crawler/engine/open_spiders"):
        print(x)


def cmd_list_available(args, opts):
    """list-available - list name of available spiders"""
    for x in jsonrpc_call(opts, "crawler/spiders", "list"):
        print(x)


def cmd_list_resources(args, opts):
    """list-resources - list available web service resources"""
    for x in json_get(opts, "")["resources"]:
        print(x)


def cmd_get_spider_stats(args, opts):
    """get-spider-stats <spider> - get stats of a running spider"""
    stats = jsonrpc_call(opts, "stats", "get_stats", args[0])
    for name, value in stats.items():
        print("%-40s %s" % (name, value))


def cmd_get_global_stats(args, opts):
    """get-global-stats - get global stats"""
    stats = jsonrpc_call(opts, "stats", "get_stats")
    for name, value in stats.items():
        print("%-40s %s" % (name, value))


def get_wsurl(opts, path):
    return urljoin("http://%s:%s/" % (opts.host, opts.port), path)


def jsonrpc_call(opts, path, method, *args, **kwargs):
    url = get_wsurl(opts, path)
    req = {"jsonrpc": "2.0", "method": method, "params": args or kwargs, "id": 1}
    request = Request(
        url,
        data=json.dumps(req).encode(),
        headers={"Content-Type": "application/json", "Authorization": "Bearer " + opts.token},
    )
    res = json.loads(opener.open(request).read())
    if "error" in res:
        raise RuntimeError(res["error"]["message"])
    return res["result"]


def json_get(opts, path):
    url = get_wsurl(opts, path)
    request = Request(url, headers={"Authorization": "Bearer " + opts.token})
    return json.loads(opener.open(request).read())


def parse_opts():
    usage = "%prog [options] <command> [arg] ..."
    description = "Scrapy web service control script. Use '%prog help' to see the list of available commands."
    op = OptionParser(usage=usage, description=description)
    op.add_option("-H", dest="host", default="localhost", help="Scrapy host to connect to")
    op.add_option("-P", dest="port", type="int", default=6080, help="Scrapy port to connect to")
    op.add_option("--token", dest="token", default="", help="web service token")
    opts, args = op.parse_args()
    if not args:
        op.print_help()
        sys.exit(2)
    cmdname, cmdargs, opts = args[0], args[1:], opts
    commands = get_commands()
    if cmdname not in commands:
        sys.stderr.write("Unknown command: %s\n\n" % cmdname)
        cmd_help(None, None)
        sys.exit(1)
    return commands[cmdname], cmdargs, opts


def main():
    cmd, args, opts = parse_opts()
    cmd(args, opts)


if __name__ == "__main__":
    main()
