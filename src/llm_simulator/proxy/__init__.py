"""Proxy mode, cassette recording and replay (SPEC PROXY-1; docs/proxy.md).

Sits beside ``adapters``, just under ``server``: the app asks ``ProxyLayer.wrap`` for each
provider route's handler and gets the route back unchanged, forwarding to an upstream, or
answering from cassettes. It imports ``providers`` (admission, rate-limit headers) and
below, never the server.
"""
