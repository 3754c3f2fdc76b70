"""The HTTP transport of the Bot API calls: httpx, with a cheaper idle-connection check.

Before each request and after each response, httpcore's pool asks every idle keep-alive
connection whether the server closed it (`get_extra_info("is_readable")`). Its anyio
stream answers by looking up the raw socket through anyio's typed attributes, and anyio
(4.x) builds them all on every lookup, calling `getpeername()` each time. With a dozen idle
connections that is two dozen system calls per Bot API call; under a crowd it was the
largest single cost of sending a reply (docs/performance.md, "4 December 2026, night").
Here the raw socket is looked up once, when the connection opens, and the check is the
same `poll()` httpcore makes.
"""

# The methods below keep httpcore's interface, whose timeouts are parameters.
# ruff: noqa: ASYNC109

from __future__ import annotations

import select
import socket
import ssl
import typing
from collections.abc import Iterable

import httpcore
import httpx


def _readable(sock: socket.socket | None) -> bool:
    """httpcore's test: a closed socket, or one with bytes (or EOF) waiting, is readable."""
    if sock is None or sock.fileno() < 0:
        return True
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


class _Stream(httpcore.AsyncNetworkStream):
    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._socket: socket.socket | None = inner.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> typing.Any:
        if info == "is_readable":
            return _readable(self._socket)
        return self._inner.get_extra_info(info)


class _Backend(httpcore.AsyncNetworkBackend):
    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return _Stream(
            await self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._inner.connect_unix_socket(path, timeout, socket_options))

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def transport(limits: httpx.Limits) -> httpx.AsyncHTTPTransport:
    """httpx's own transport (its request and error mapping), over the backend above."""
    result = httpx.AsyncHTTPTransport(limits=limits)
    # httpx has no parameter for the network backend; the pool it built is replaced by the
    # same one with ours (its other settings are httpx's defaults, as above).
    result._pool = httpcore.AsyncConnectionPool(
        ssl_context=httpx.create_ssl_context(),
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=_Backend(),
    )
    return result
