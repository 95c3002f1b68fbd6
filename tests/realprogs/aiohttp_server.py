"""An aiohttp web server on 127.0.0.1 and a port the kernel picks; prints
"port N" first. GET /body sends BODY bytes (Content-Length, streamed in
chunks); GET /body?reset=K sends the same header and the first K bytes of
the body, then aborts the connection (RST: SO_LINGER 0). SIGTERM stops it;
it then prints how many requests it answered and exits 0."""
import asyncio
import signal
import socket
import struct

from aiohttp import web

BODY, CHUNK = 65536, 4096
answered = 0


def body_byte(n):
    return bytes((n + i) % 251 for i in range(CHUNK))


async def body(request):
    global answered
    reset_after = int(request.query.get("reset", BODY + 1))
    response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
    response.content_length = BODY
    await response.prepare(request)
    sent = 0
    while sent < BODY:
        part = body_byte(sent)[:min(CHUNK, BODY - sent, reset_after - sent)]
        if not part:
            break
        await response.write(part)
        sent += len(part)
    if sent < BODY:
        # The peer gets the bytes written so far, then an RST.
        sock = request.transport.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        request.transport.abort()
        return response
    answered += 1
    await response.write_eof()
    return response


async def main():
    app = web.Application()
    app.router.add_get("/body", body)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    # Said once SIGTERM stops it cleanly.
    print(f"port {runner.addresses[0][1]}", flush=True)
    await stop.wait()
    await runner.cleanup()
    print(f"answered {answered}", flush=True)


asyncio.run(main())
