#!/usr/bin/env python3
"""loadtest/sse_hold.py — many concurrent idle-reading SSE streams held open
against inferd's HTTP port, and what they cost the daemon: its resident memory
and thread count (/proc/PID/status) before the streams, while every one of them
is open, and after they are closed.

    loadtest/sse_hold.py --model ../shared/models/tiny-llama --streams 1000 \\
        [--max-tokens 4000] [--hold 20] [--read-every 1] [--json-out FILE] \\
        [-- extra inferd serve flags, e.g. --max-num-seqs 1024]

starts `build/inferd serve --http-port 0` itself (its open-file limit raised to
the hard limit, as every stream is a descriptor), or measures a daemon already
running with --http-addr HOST:PORT --pid PID.

Each stream is a raw socket sending `POST /v1/completions` (`stream: true`, a
short token-id prompt (ids below 512: any model), `ignore_eos`, `--max-tokens`): an idle reader that
drains what has arrived only every `--read-every` seconds. Once every stream
has its `200` header, the script samples the daemon ("opened": the streams'
own cost, before the running sequences have written much KV cache), holds
them for `--hold` seconds, sampling each 0.5 s (peak threads, peak RSS: the
KV pages the running sequences touch included), then closes them all (the
server aborts their requests) and samples again. The report (stdout, and --json-out)
counts the streams that got 200, those still running (no `[DONE]` yet) at the
end of the hold, and the bytes they received. Exit 1 when a stream failed.

Plain Python (no third-party modules): selectors over non-blocking sockets, one
thread.
"""

import argparse
import json
import os
import resource
import selectors
import signal
import socket
import subprocess
import sys
import time

HTTP_PREFIX = "inferd: http on "
READY_PREFIX = "inferd: serving "


def proc_status(pid):
    """{'rss_kib', 'hwm_kib', 'threads'} of process `pid` (/proc/PID/status)."""
    fields = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return {"rss_kib": int(fields["VmRSS"].split()[0]),
            "hwm_kib": int(fields["VmHWM"].split()[0]),
            "threads": int(fields["Threads"])}


def raise_nofile():
    """Soft RLIMIT_NOFILE up to the hard limit (inherited by a daemon we start)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def start_daemon(inferd, model, extra_args, timeout_s=120):
    """inferd serve on 127.0.0.1 with free ports; (process, http port)."""
    process = subprocess.Popen(
        [inferd, "serve", "--model", model, "--host", "127.0.0.1", "--port", "0",
         "--metrics-port", "-1", "--http-port", "0"] + list(extra_args),
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + timeout_s
    http_port = None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        line = line.strip()
        if line.startswith(HTTP_PREFIX):
            http_port = int(line.rsplit(":", 1)[1])
        if line.startswith(READY_PREFIX) and http_port is not None:
            return process, http_port
    process.kill()
    process.wait()
    raise RuntimeError("inferd serve printed no ready line")


def stop_daemon(process):
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class Stream:
    def __init__(self, sock):
        self.sock = sock
        self.head = b""
        self.status = None  # the HTTP status, once the header is in
        self.received = 0  # body bytes
        self.done = False  # saw [DONE]
        self.tail = b""  # the last bytes, to find [DONE] across reads
        self.error = None


def request_bytes(host, port, prompt_ids, max_tokens):
    body = json.dumps({"prompt": prompt_ids, "max_tokens": max_tokens, "ignore_eos": True,
                       "stream": True}).encode()
    return (("POST /v1/completions HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
             "Content-Length: %d\r\n\r\n" % (host, port, len(body))).encode() + body)


def read_available(stream, limit=1 << 16):
    """Drains what the socket has (at most `limit` bytes); False when it closed."""
    try:
        data = stream.sock.recv(limit)
    except BlockingIOError:
        return True
    except OSError as e:
        stream.error = str(e)
        return False
    if not data:
        if stream.status is None:
            stream.error = "closed before a response"
        return False
    if stream.status is None:
        stream.head += data
        if b"\r\n\r\n" not in stream.head:
            return True
        head, _, data = stream.head.partition(b"\r\n\r\n")
        stream.status = int(head.split(b" ", 2)[1])
    stream.received += len(data)
    stream.tail = (stream.tail + data)[-64:]
    if b"data: [DONE]" in stream.tail:
        stream.done = True
    return True


def hold(host, port, pid, streams, max_tokens, hold_s, read_every_s, connect_timeout_s=120,
         log=sys.stderr):
    """Opens `streams` streams, holds them, closes them; the report (a dict)."""
    report = {"streams": streams, "max_tokens": max_tokens, "hold_s": hold_s,
              "read_every_s": read_every_s, "before": proc_status(pid)}
    request = request_bytes(host, port, [1, 103, 261, 109, 345, 280, 312, 298], max_tokens)
    selector = selectors.DefaultSelector()
    opened = []
    start = time.monotonic()
    for _ in range(streams):
        sock = socket.create_connection((host, port), timeout=connect_timeout_s)
        sock.sendall(request)
        sock.setblocking(False)
        stream = Stream(sock)
        opened.append(stream)
        selector.register(sock, selectors.EVENT_READ, stream)
    # Every stream's header (reading what arrives meanwhile).
    deadline = time.monotonic() + connect_timeout_s
    waiting = set(opened)
    while waiting and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=0.5):
            stream = key.data
            if stream in waiting:
                if not read_available(stream) or stream.status is not None:
                    waiting.discard(stream)
    report["open_s"] = round(time.monotonic() - start, 3)
    # Every stream open, before the running ones have touched many KV pages.
    report["opened"] = proc_status(pid)
    report["status_200"] = sum(1 for s in opened if s.status == 200)
    report["failed"] = [s.error or "status %s" % s.status for s in opened
                        if s.status != 200][:5]
    print("sse_hold: %d/%d streams got 200 in %.1f s" %
          (report["status_200"], streams, report["open_s"]), file=log)
    # Hold: idle readers, the daemon sampled.
    samples = []
    closed = 0
    hold_end = time.monotonic() + hold_s
    next_read = time.monotonic()
    while time.monotonic() < hold_end:
        samples.append(proc_status(pid))
        if time.monotonic() >= next_read:
            for stream in opened:
                if stream.sock.fileno() >= 0 and not read_available(stream):
                    closed += 1
                    selector.unregister(stream.sock)
                    stream.sock.close()
            next_read += read_every_s
        time.sleep(0.5)
    report["held"] = {
        "peak_threads": max(s["threads"] for s in samples),
        "peak_rss_kib": max(s["rss_kib"] for s in samples),
        "last": samples[-1],
    }
    report["running_at_end_of_hold"] = sum(1 for s in opened if s.status == 200 and not s.done
                                           and s.sock.fileno() >= 0)
    report["finished_during_hold"] = sum(1 for s in opened if s.done)
    report["closed_by_server"] = closed
    report["body_bytes"] = sum(s.received for s in opened)
    for stream in opened:
        if stream.sock.fileno() >= 0:
            selector.unregister(stream.sock)
            stream.sock.close()
    selector.close()
    time.sleep(2)  # the server sees the closes and aborts the requests
    report["after"] = proc_status(pid)
    return report


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="start build/inferd serve on this model directory")
    parser.add_argument("--inferd", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "build", "inferd"))
    parser.add_argument("--http-addr", help="a running daemon's HTTP HOST:PORT (with --pid)")
    parser.add_argument("--pid", type=int, help="the running daemon's process id")
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--max-tokens", type=int, default=4000)
    parser.add_argument("--hold", type=float, default=20, help="seconds to hold every stream")
    parser.add_argument("--read-every", type=float, default=1.0,
                        help="seconds between an idle reader's reads")
    parser.add_argument("--json-out")
    parser.add_argument("serve_args", nargs="*", help="extra inferd serve flags (after --)")
    args = parser.parse_args()
    if (args.model is None) == (args.http_addr is None):
        parser.error("give --model (start a daemon) or --http-addr with --pid")
    if args.http_addr is not None and args.pid is None:
        parser.error("--http-addr needs --pid (the daemon whose memory is measured)")
    if args.streams < 1 or args.hold <= 0 or args.read_every <= 0:
        parser.error("--streams must be >= 1, --hold and --read-every > 0")
    nofile = raise_nofile()
    if nofile < args.streams + 64:
        parser.error("the open-file limit (%d) is below --streams + 64" % nofile)
    process = None
    if args.model is not None:
        process, port = start_daemon(args.inferd, args.model, args.serve_args)
        host, pid = "127.0.0.1", process.pid
    else:
        host, _, port = args.http_addr.rpartition(":")
        host, port, pid = host.strip("[]"), int(port), args.pid
    try:
        report = hold(host, port, pid, args.streams, args.max_tokens, args.hold, args.read_every)
    finally:
        if process is not None:
            stop_daemon(process)
    report["serve_args"] = args.serve_args
    text = json.dumps(report, indent=2)
    print(text)
    if args.json_out:
        with open(args.json_out, "w") as f:
            f.write(text + "\n")
    return 0 if report["status_200"] == args.streams and report["closed_by_server"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
