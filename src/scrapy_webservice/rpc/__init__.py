"""JSON-RPC 2.0 and the wire: messages, parameter checks, dispatch, OpenRPC, encoding.

The bottom layer: it imports nothing else of the package, so the service,
the client and the command line all share the one reading of the protocol.
Also here, as part of the contract both ends share: the errors that carry a
JSON-RPC code, the exposure markers (``@readonly``, ``@control``, ``data``)
and ``Secret``, the type no encoder ever writes out.
"""
