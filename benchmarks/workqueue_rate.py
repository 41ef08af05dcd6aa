"""How fast the reference work queue goes: the broker's cost beside a bare REQ/REP round trip,
more workers for slow requests, and the load-balancing broker beside a DEALER that deals blindly.

All measured in the same run, on this machine, so the rows can be compared with each
other (the 05-workqueue handout quotes them). Printed, never asserted:

    .venv/bin/python benchmarks/workqueue_rate.py [REQUESTS]
"""
from __future__ import annotations

import sys
import threading
import time

import zmq
from queuepi_rate import reqrep_round_trips
from references import reference

WORK = 0.020  # seconds of work a slow request takes (the hidden tests' throughput check)
SLOW, FAST = 0.5, 0.005  # one slow worker beside three fast ones


def sleeper(seconds: float):
    def handle(request: bytes) -> bytes:
        time.sleep(seconds)
        return request
    return handle


def timed(function, *args, **kwargs) -> float:
    started = time.perf_counter()
    function(*args, **kwargs)
    return time.perf_counter() - started


def row(what: str, requests: float, seconds: float, note: str = "") -> None:
    print(f"{what:<52} {requests / seconds:>9,.0f} /s   {seconds:6.2f} s  {note}")


def rep_worker(zcontext, url: str, handle) -> None:
    """A plain REP worker, as a DEALER backend needs: no READY, no envelope of its own."""
    zsock = zcontext.socket(zmq.REP)
    zsock.linger = 0
    try:
        zsock.connect(url)
        while True:
            zsock.send(handle(zsock.recv()))
    except zmq.ContextTerminated:
        zsock.close()


def dealer_broker(zcontext, frontend_url: str, backend_url: str) -> None:
    """ROUTER in front, DEALER behind, zmq.proxy between: each request to the next worker in turn."""
    frontend, backend = zcontext.socket(zmq.ROUTER), zcontext.socket(zmq.DEALER)
    for zsock in frontend, backend:
        zsock.linger = 0
    try:
        frontend.bind(frontend_url)
        backend.bind(backend_url)
        zmq.proxy(frontend, backend)
    except zmq.ContextTerminated:
        frontend.close()
        backend.close()


def one_slow_worker(workqueue, broker, worker, requests: int) -> float:
    """Seconds for `requests` requests from 4 clients, through `broker`, to one SLOW and three FAST workers."""
    zcontext = zmq.Context()
    frontend, backend = workqueue.loopback_url(), workqueue.loopback_url()
    nodes = [workqueue.start_thread(broker, zcontext, frontend, backend)]
    nodes += [workqueue.start_thread(worker, zcontext, backend, sleeper(s)) for s in (SLOW, FAST, FAST, FAST)]
    time.sleep(0.2)  # every worker connected before the first request
    payloads = [b"%d" % i for i in range(requests)]
    clients = [threading.Thread(target=workqueue.client, args=(zcontext, frontend, payloads[i::4], 30.0))
               for i in range(4)]
    started = time.perf_counter()
    for thread in clients:
        thread.start()
    for thread in clients:
        thread.join()
    seconds = time.perf_counter() - started
    zcontext.term()
    for node in nodes:
        node.join()
    return seconds


def main(requests: int) -> int:
    workqueue = reference("05-workqueue")
    print(f"work queue throughput, {requests:,} requests (a shared two-core machine: the figures are noisy;")
    print("compare the rows with each other)\n")
    rtt = reqrep_round_trips(requests)
    row("bare REQ/REP round trips, no broker", requests, rtt, f"{rtt / requests * 1e6:.0f} us each")
    payloads = [b"%d" % i for i in range(requests)]
    seconds = timed(workqueue.process_all, payloads, bytes, workers=1, clients=1)
    row("process_all, 1 client, 1 worker, no work", requests, seconds,
        f"{seconds / requests * 1e6:.0f} us each, start and stop included")
    seconds = timed(workqueue.process_all, payloads, bytes, workers=4, clients=4)
    row("process_all, 4 clients, 4 workers, no work", requests, seconds)
    slow = payloads[:min(requests, 200)]
    one = None
    for workers in 1, 2, 4:
        seconds = timed(workqueue.process_all, slow, sleeper(WORK), workers=workers, clients=4)
        one = one or seconds
        row(f"process_all, 4 clients, {workers} worker(s), {WORK * 1000:.0f} ms of work", len(slow), seconds,
            f"{one / seconds:.1f} times one worker's rate")
    few = min(requests, 40)
    for name, broker, worker in (("ROUTER/ROUTER, least recently used", workqueue.broker, workqueue.worker),
                                 ("ROUTER/DEALER (zmq.proxy), in turn", dealer_broker, rep_worker)):
        seconds = one_slow_worker(workqueue, broker, worker, few)
        row(f"{name}: 1 worker of {SLOW * 1000:.0f} ms, 3 of {FAST * 1000:.0f} ms", few, seconds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000))
