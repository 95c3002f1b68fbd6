"""An aiohttp client session fetching URL (the argument) COUNT times (the
second argument, default 1) over its connection pool. For each fetch it
prints the status, the header's length in bytes as sent (status line and
header lines) and the body bytes received, or the error (exception class,
errno, message) at the point it happened; the exit status is 0 when every
body was complete, 1 otherwise."""
import asyncio
import sys

import aiohttp


def header_bytes(response):
    """The length of the response's status line and header as they came."""
    status = f"HTTP/{response.version.major}.{response.version.minor} {response.status} {response.reason}\r\n"
    return len(status) + sum(len(k) + 2 + len(v) + 2 for k, v in response.raw_headers) + 2


async def fetch(session, url):
    got = 0
    try:
        async with session.get(url) as response:
            head = header_bytes(response)
            async for chunk in response.content.iter_any():
                got += len(chunk)
            complete = got == response.content_length
            return complete, f"{response.status} header {head} body {got}"
    except (aiohttp.ClientError, OSError) as e:
        cause = e
        while cause.__cause__ is not None and not isinstance(cause, OSError):
            cause = cause.__cause__
        return False, f"body {got} error {type(e).__name__} errno {getattr(cause, 'errno', None)}: {e}"


async def main(url, count):
    results = []
    async with aiohttp.ClientSession() as session:
        for _ in range(count):
            results.append(await fetch(session, url))
    for _, line in results:
        print(line)
    return 0 if all(ok for ok, _ in results) else 1


sys.exit(asyncio.run(main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1)))
