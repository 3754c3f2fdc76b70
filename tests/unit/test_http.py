"""The Bot API transport (bot/http.py): keep-alive connections the server closed are noticed
before they are reused, as httpcore's own check does, without its cost."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest

from bot import http

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok"


async def serve(close_after_answer: bool) -> tuple[asyncio.Server, int, list[int]]:
    """A server answering one request per connection; it may then close the connection
    without saying so (as Telegram's front ends do with idle keep-alive connections)."""
    connections: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(len(connections) + 1)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if not head:
                    break
                writer.write(RESPONSE)
                await writer.drain()
                if close_after_answer:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, port, connections


@pytest.mark.parametrize(
    ("server_closes", "connections_opened"),
    [
        (True, 3),  # each request finds the last connection closed: a new one, no error
        (False, 1),  # a live connection is kept and reused
    ],
    ids=["closed-by-the-server-not-reused", "live-reused"],
)
async def test_a_connection_is_reused_only_while_the_server_keeps_it(
    server_closes: bool, connections_opened: int
) -> None:
    server, port, connections = await serve(close_after_answer=server_closes)
    limits = httpx.Limits(max_connections=4, max_keepalive_connections=4)
    async with server, httpx.AsyncClient(transport=http.transport(limits)) as client:
        for _ in range(3):
            response = await client.get(f"http://127.0.0.1:{port}/")
            assert response.text == "ok"
            await asyncio.sleep(0.05)  # a close by the server reaches us
    assert len(connections) == connections_opened


def test_readable_means_closed_or_bytes_waiting() -> None:
    ours, theirs = socket.socketpair()
    try:
        assert http._readable(ours) is False  # idle, open
        theirs.close()
        assert http._readable(ours) is True  # EOF waiting: the peer closed
    finally:
        ours.close()
    assert http._readable(ours) is True  # closed here: not reusable either
    assert http._readable(None) is True
