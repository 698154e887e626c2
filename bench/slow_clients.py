#!/usr/bin/env python3
"""One step of bench/slow_clients.sh: hold N hostile connections of a kind to
the exporter and, meanwhile, time a steady scraper and then wrk.

usage: slow_clients.py KIND N HOST PORT TLS_PORT PID
KIND: none, idle, half-open, trickle, keep-alive, none-tls, tls-handshake
(the last two scrape the exporter serving TLS; none-tls holds nothing).
Prints one tab-separated line:
  kind held reconnects scrapes failures p50_ms p99_ms max_ms
  wrk_p50_ms wrk_p99_ms wrk_req_s rss_mib threads
A connection the server closes is opened again at once, as a client that
means harm would, so the number held stays N.
Environment: SCRAPES (100), SCRAPE_RATE (20 per second), SCRAPE_TIMEOUT (10
s, Prometheus's default), WRK_DURATION (5s; 0 skips wrk).
"""
import asyncio
import os
import re
import resource
import ssl
import sys
import time

KIND, N, HOST, PORT, TLS_PORT, PID = sys.argv[1:7]
N, PORT, TLS_PORT = int(N), int(PORT), int(TLS_PORT)
SCRAPES = int(os.environ.get("SCRAPES", "100"))
RATE = float(os.environ.get("SCRAPE_RATE", "20"))
TIMEOUT = float(os.environ.get("SCRAPE_TIMEOUT", "10"))
WRK_DURATION = os.environ.get("WRK_DURATION", "5s")
# The TLS kind loads the TLS exporter; the scraper and wrk follow it there.
TLS = KIND in ("none-tls", "tls-handshake")
TARGET_PORT = TLS_PORT if TLS else PORT

PARTIAL_HEAD = b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n"
# A ClientHello's record header and the start of its body: the server waits
# for the rest, which never comes.
PARTIAL_HELLO = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(32)

held = 0
reconnects = 0
stop = False


async def hostile(index):
    """One connection of KIND, opened again whenever the server closes it."""
    global held, reconnects
    first = True
    while not stop:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(HOST, TARGET_PORT), 10)
        except (OSError, asyncio.TimeoutError):
            await asyncio.sleep(0.5)
            continue
        if not first:
            reconnects += 1
        first = False
        held += 1
        try:
            if KIND == "half-open":
                writer.write(PARTIAL_HEAD)
            elif KIND == "trickle":
                writer.write(PARTIAL_HEAD)
            elif KIND == "tls-handshake":
                writer.write(PARTIAL_HELLO)
            elif KIND == "keep-alive":
                writer.write(b"GET /-/healthy HTTP/1.1\r\nHost: localhost\r\n\r\n")
            await writer.drain()
            while not stop:
                if KIND == "trickle":
                    writer.write(b"X")
                    await writer.drain()
                try:
                    data = await asyncio.wait_for(reader.read(65536), 1.0)
                    if not data:
                        break  # closed by the server
                except asyncio.TimeoutError:
                    pass
        except OSError:
            pass
        finally:
            held -= 1
            writer.close()


async def scrape_once(context):
    start = time.monotonic()
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(HOST, TARGET_PORT, ssl=context), TIMEOUT)
    except (OSError, asyncio.TimeoutError, ssl.SSLError):
        return None
    try:
        writer.write(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n"
                     b"Connection: close\r\n\r\n")
        left = TIMEOUT - (time.monotonic() - start)
        data = await asyncio.wait_for(reader.read(), max(left, 0.001))
        ok = data.startswith(b"HTTP/1.1 200") and b"\r\n\r\n" in data
        return time.monotonic() - start if ok else None
    except (OSError, asyncio.TimeoutError, ssl.SSLError):
        return None
    finally:
        writer.close()


async def scraper():
    context = None
    if TLS:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    t0 = time.monotonic()
    tasks = []
    for i in range(SCRAPES):
        delay = t0 + i / RATE - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(scrape_once(context)))
    return await asyncio.gather(*tasks)


def percentile(values, p):
    values = sorted(values)
    k = max(0, min(len(values) - 1, int(-(-p * len(values) // 100)) - 1))
    return values[k]


def proc_status(pid):
    rss, threads = 0, 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
    return rss, threads


async def wrk():
    if WRK_DURATION in ("0", "0s"):
        return "-", "-", "-"
    scheme = "https" if TLS else "http"
    proc = await asyncio.create_subprocess_exec(
        "wrk", "-t1", "-c4", "-d" + WRK_DURATION, "--timeout", "10s",
        "--latency", f"{scheme}://{HOST}:{TARGET_PORT}/metrics",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out = (await proc.communicate())[0].decode()

    def ms(label):
        m = re.search(rf"^\s*{label}\s+([0-9.]+)(us|ms|s|m)\s*$", out, re.M)
        if not m:
            return "-"
        v = float(m.group(1))
        v *= {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[m.group(2)]
        return f"{v:.1f}"

    rps = re.search(r"^Requests/sec:\s+([0-9.]+)", out, re.M)
    return ms("50%"), ms("99%"), rps.group(1) if rps else "-"


async def main():
    global stop
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    tasks = []
    if not KIND.startswith("none"):
        for i in range(N):
            tasks.append(asyncio.ensure_future(hostile(i)))
            if i % 100 == 99:
                await asyncio.sleep(0.05)
        # Up to 30 s for all of them to be open.
        for _ in range(300):
            if held >= N:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1)
    held_at_start = held
    results = await scraper()
    rss, threads = proc_status(PID)
    wrk_p50, wrk_p99, wrk_rps = await wrk()
    stop = True
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    ok = [r * 1000 for r in results if r is not None]
    failures = len(results) - len(ok)
    # A failed scrape counts as the whole timeout.
    lat = ok + [TIMEOUT * 1000] * failures
    print("\t".join(str(x) for x in [
        KIND, held_at_start, reconnects, len(results), failures,
        f"{percentile(lat, 50):.1f}", f"{percentile(lat, 99):.1f}",
        f"{max(lat):.1f}", wrk_p50, wrk_p99, wrk_rps, f"{rss:.1f}", threads]))


asyncio.run(main())
