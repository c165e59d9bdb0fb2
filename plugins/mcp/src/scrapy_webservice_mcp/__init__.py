"""scrapy-webservice-mcp: running Scrapy crawls as an MCP server (``scrapy-ws mcp``).

The JSON-RPC methods of every attached web service become MCP tools (their
params' JSON Schema and docstrings from ``rpc.discover``), its live numbers
MCP resources; control methods only where the token allows them.
"""

__version__ = "0.1.0"
