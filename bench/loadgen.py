"""A light HTTP/1.1 load generator on asyncio streams, for the benchmarks (loopback only).

Each virtual client keeps one keep-alive connection and sends its requests one after another;
a request costs the generator some tens of microseconds, so on a small machine the server, not
the generator, takes the CPU. Only what the benchmarks need: GET and form POST, cookies given
up front, Content-Length bodies.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode


@dataclass
class Request:
    """One request a client sends again and again."""

    method: str
    path: str
    cookies: dict[str, str] = field(default_factory=dict)
    form: dict[str, str] | None = None
    user_agent: str = "campusid-bench"

    def encode(self, host: str) -> bytes:
        body = urlencode(self.form).encode() if self.form is not None else b""
        lines = [
            f"{self.method} {self.path} HTTP/1.1",
            f"Host: {host}",
            f"User-Agent: {self.user_agent}",
        ]
        if self.cookies:
            lines.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        if self.form is not None:
            lines.append("Content-Type: application/x-www-form-urlencoded")
        lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@dataclass
class Result:
    """Latencies (seconds) of the answered requests, and the statuses seen."""

    seconds: float
    latencies: list[float]
    statuses: dict[int, int]
    late: int = 0  # requests answered after the window closed (not counted)

    @property
    def failed(self) -> int:
        """Answers that were not the expected ones."""
        return sum(self.statuses.values()) - len(self.latencies)

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    @property
    def median_ms(self) -> float:
        return statistics.median(self.latencies) * 1000 if self.latencies else 0.0

    @property
    def p99_ms(self) -> float:
        ordered = sorted(self.latencies)
        return ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1000 if ordered else 0.0


async def read_answer(reader: asyncio.StreamReader) -> tuple[int, list[tuple[str, str]]]:
    """The status and the headers (lower-case names) of one answer; its body is read and
    dropped."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = []
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name, value = name.lower(), value.strip()
        headers.append((name, value))
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding":
            raise RuntimeError("chunked answers are not supported by this generator")
    if length:
        await reader.readexactly(length)
    return status, headers


def set_cookies(headers: list[tuple[str, str]]) -> dict[str, str]:
    """The cookies an answer sets (name and value; attributes dropped)."""
    found = {}
    for name, value in headers:
        if name == "set-cookie":
            pair = value.split(";", 1)[0]
            key, _, val = pair.partition("=")
            found[key.strip()] = val.strip().strip('"')
    return found


async def _read_response(reader: asyncio.StreamReader) -> int:
    return (await read_answer(reader))[0]


async def _client(
    host: str,
    port: int,
    request: Request,
    deadline: float,
    result: Result,
    expect: Callable[[int], bool],
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    payload = request.encode(f"{host}:{port}")
    try:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            writer.write(payload)
            status = await _read_response(reader)
            done = time.perf_counter()
            if done > deadline:
                # Answered after the window: the server's work is not counted in the rate (a
                # flood's last requests would otherwise add up to one per client to it).
                result.late += 1
                break
            result.statuses[status] = result.statuses.get(status, 0) + 1
            if expect(status):  # others are counted in `statuses` (a flood may get 500s)
                result.latencies.append(done - started)
    finally:
        writer.close()


def run(
    host: str,
    port: int,
    requests: list[Request],
    seconds: float,
    expect: Callable[[int], bool] = lambda status: status < 400,
) -> Result:
    """Send the requests, one client each, for `seconds`; returns what came back in that time.

    Only answers that arrive within the window count (requests still in flight when it closes
    are awaited, so the next run starts on an idle server, but not counted).
    """

    async def main() -> Result:
        result = Result(seconds, [], {})
        deadline = time.perf_counter() + seconds
        await asyncio.gather(*(_client(host, port, r, deadline, result, expect) for r in requests))
        return result

    return asyncio.run(main())
