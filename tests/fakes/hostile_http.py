"""Hostile response bodies the loopback fakes can stream: a slow drip, a gzip bomb, a
body far larger than any real answer. Each is a `Streamer`: given the request and the
server's `closing` event, it answers with an aiohttp `StreamResponse`, and it stops as
soon as the client goes away or the server closes, so nothing runs on after a test.

    Fault(stream=slow_drip(0.05, first=b"["))        # a byte every 50 ms, forever
    Fault(stream=gzip_bomb(1 << 30, prefix=b"["))    # ~1 MB on the wire, 1 GiB decoded
    Fault(stream=oversized(300 << 20, prefix=b"["))  # 300 MiB, streamed

Nothing is built in memory beyond one megabyte: the bomb repeats one compressed segment.
"""

from __future__ import annotations

import asyncio
import struct
import zlib
from collections.abc import Awaitable, Callable
from functools import cache

from aiohttp import web

Streamer = Callable[[web.Request, asyncio.Event], Awaitable[web.StreamResponse]]

_MB = 1 << 20
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # deflate, no name, no mtime
_FINAL_BLOCK = b"\x03\x00"  # an empty, final, fixed-Huffman deflate block


async def _open(
    request: web.Request, content_type: str, headers: dict[str, str] | None = None
) -> web.StreamResponse:
    response = web.StreamResponse(status=200, headers={"Content-Type": content_type})
    for name, value in (headers or {}).items():
        response.headers[name] = value
    await response.prepare(request)
    return response


def slow_drip(
    interval: float, *, first: bytes = b"[", content_type: str = "application/json"
) -> Streamer:
    """200 and its headers at once, then `first`, then one space every `interval`
    seconds, forever: every read is quick, the body never ends."""

    async def stream(request: web.Request, closing: asyncio.Event) -> web.StreamResponse:
        response = await _open(request, content_type)
        try:
            await response.write(first)
            while not closing.is_set():
                try:
                    await asyncio.wait_for(closing.wait(), interval)
                except TimeoutError:
                    pass
                await response.write(b" ")
        except (ConnectionError, RuntimeError):  # the client left
            pass
        return response

    return stream


@cache
def _segment(data: bytes) -> bytes:
    """`data` as a self-contained raw deflate segment (full flush: byte-aligned, no
    back-references), so that segments can be concatenated into one stream."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush(zlib.Z_FULL_FLUSH)


def gzip_bomb(
    decoded: int,
    *,
    prefix: bytes = b"[",
    suffix: bytes = b"]",
    content_type: str = "application/json",
) -> Streamer:
    """`Content-Encoding: gzip`: `prefix`, `decoded` spaces (rounded up to whole MiB)
    and `suffix` -- a valid document once decoded, about 1/1000 of that on the wire."""
    megabytes = -(-decoded // _MB)

    async def stream(request: web.Request, closing: asyncio.Event) -> web.StreamResponse:
        response = await _open(request, content_type, {"Content-Encoding": "gzip"})
        block = b" " * _MB
        crc = zlib.crc32(prefix)
        try:
            await response.write(_GZIP_HEADER + _segment(prefix))
            for _ in range(megabytes):
                if closing.is_set():
                    return response
                await response.write(_segment(block))
                crc = zlib.crc32(block, crc)
            crc = zlib.crc32(suffix, crc)
            size = len(prefix) + megabytes * _MB + len(suffix)
            trailer = struct.pack("<II", crc & 0xFFFFFFFF, size & 0xFFFFFFFF)
            await response.write(_segment(suffix) + _FINAL_BLOCK + trailer)
            await response.write_eof()
        except (ConnectionError, RuntimeError):
            pass
        return response

    return stream


def oversized(
    size: int,
    *,
    prefix: bytes = b"[",
    suffix: bytes = b"]",
    declare_length: bool = True,
    content_type: str = "application/json",
) -> Streamer:
    """A plain body of `size` bytes (`prefix`, spaces, `suffix`), streamed a MiB at a
    time; with `declare_length` its Content-Length says so up front, else it is chunked."""

    async def stream(request: web.Request, closing: asyncio.Event) -> web.StreamResponse:
        headers = {"Content-Length": str(size)} if declare_length else {}
        response = await _open(request, content_type, headers)
        block = b" " * _MB
        left = size - len(prefix) - len(suffix)
        try:
            await response.write(prefix)
            while left > 0 and not closing.is_set():
                await response.write(block[: min(left, _MB)])
                left -= _MB
            await response.write(suffix)
            await response.write_eof()
        except (ConnectionError, RuntimeError):
            pass
        return response

    return stream
