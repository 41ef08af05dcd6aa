"""A work queue over ZeroMQ: the course's REQ/REP server and client, grown into a broker and its workers.

Read the handout (README.md) first: it starts from the course's server and client,
then builds the rest in the order of this file.

    client --REQ------> ROUTER [broker] ROUTER <------REQ-- worker (x N)
            (frontend_url, bound)     (backend_url, bound)

A `handle` is any callable bytes -> bytes: the work a server or a worker does for
one request. Run the file as a script to watch a batch go faster with more workers:

    python workqueue.py            # 40 requests of 20 ms each
    python workqueue.py 100
"""
import queue
import socket
import sys
import threading
import time

import zmq

READY = b"READY"  # a worker's first message: "I am here, send me work"


def open_socket(zcontext: zmq.Context, kind: int) -> zmq.Socket:
    """A new socket of `kind` that drops its unsent messages when closed (LINGER 0), so term() never waits.

    Set LINGER now, not in close(): once the context is terminated, setting an
    option fails, and close(linger=0) ignores that failure (03-queuepi, section 5).
    """
    ### BEGIN SOLUTION
    zsock = zcontext.socket(kind)
    zsock.linger = 0
    return zsock
    ### END SOLUTION


def server(zcontext: zmq.Context, url: str, handle, requests: int | None = None) -> int:
    """The course's server: a REP socket that binds `url` and replies handle(request) to each request.

    Returns how many requests it served: after `requests` of them, or, with
    requests=None, once zcontext is terminated (within a second).
    """
    ### BEGIN SOLUTION
    zsock = open_socket(zcontext, zmq.REP)
    served = 0
    try:
        zsock.bind(url)
        while requests is None or served < requests:
            request = zsock.recv()
            zsock.send(handle(request))
            served += 1
        zsock.linger = 1000  # done, not stopped: give the last reply a second to leave
    except zmq.ContextTerminated:
        pass
    finally:
        zsock.close()
    return served
    ### END SOLUTION


def ask(zsock: zmq.Socket, payload: bytes, timeout: float) -> bytes | None:
    """Send `payload` on the REQ socket `zsock`; its reply, or None when none came within `timeout` seconds."""
    ### BEGIN SOLUTION
    zsock.send(payload)
    if zsock.poll(round(timeout * 1000)):
        return zsock.recv()
    return None
    ### END SOLUTION


def client(zcontext: zmq.Context, url: str, payloads, timeout: float = 2.0, retries: int = 3) -> list[bytes]:
    """The Lazy Pirate: a REQ socket that connects to `url` and sends each payload in order.

    It waits at most `timeout` seconds for each reply. When none comes, that socket
    can only go on waiting, so it is closed (LINGER 0) and a new one connected, and
    the same payload sent again: at most `retries` more times, then TimeoutError,
    naming the payload. Returns the replies in payload order. If zcontext is
    terminated while it waits, it closes its socket and raises zmq.ContextTerminated.
    """
    ### BEGIN SOLUTION
    zsock = open_socket(zcontext, zmq.REQ)
    replies = []
    try:
        zsock.connect(url)
        for payload in payloads:
            for attempt in range(retries + 1):
                if attempt:  # no reply: this socket is stuck waiting for one, so throw it away
                    zsock.close()
                    zsock = open_socket(zcontext, zmq.REQ)
                    zsock.connect(url)
                reply = ask(zsock, payload, timeout)
                if reply is not None:
                    replies.append(reply)
                    break
            else:
                raise TimeoutError(f"no reply to {payload!r} from {url} after {retries + 1} tries of {timeout} s")
    finally:
        zsock.close()
    return replies
    ### END SOLUTION


def worker(zcontext: zmq.Context, url: str, handle, identity: bytes | None = None) -> int:
    """A worker of the queue: a REQ socket that connects to the broker's backend at `url`.

    Takes `identity` as its zmq.IDENTITY when given. Sends READY once; then each
    message it receives is [client_id, b'', request], and it sends back
    [client_id, b'', handle(request)]. Once zcontext is terminated it returns, within
    a second, how many requests it served. If handle raises, the worker dies with it.
    """
    ### BEGIN SOLUTION
    zsock = open_socket(zcontext, zmq.REQ)
    served = 0
    try:
        if identity is not None:
            zsock.identity = identity
        zsock.connect(url)
        zsock.send(READY)
        while True:
            client_id, empty, request = zsock.recv_multipart()
            zsock.send_multipart([client_id, empty, handle(request)])
            served += 1
    except zmq.ContextTerminated:
        pass
    finally:
        zsock.close()
    return served
    ### END SOLUTION


def broker(zcontext: zmq.Context, frontend_url: str, backend_url: str) -> None:
    """The load-balancing broker: a ROUTER that binds frontend_url for clients, one that binds backend_url for workers.

    A worker is idle after its READY and after each reply it sends. Each request
    goes to the worker that has been idle longest, never to a busy one; while no
    worker is idle, requests wait. Each reply goes back to the client that asked.
    Returns within a second once zcontext is terminated.
    """
    ### BEGIN SOLUTION
    frontend = open_socket(zcontext, zmq.ROUTER)
    backend = open_socket(zcontext, zmq.ROUTER)
    idle = []  # worker ids, the one idle longest first
    poller = zmq.Poller()
    try:
        frontend.bind(frontend_url)
        backend.bind(backend_url)
        poller.register(backend, zmq.POLLIN)
        while True:
            poller.register(frontend, zmq.POLLIN if idle else 0)  # no idle worker: requests wait in line
            ready = dict(poller.poll())
            if backend in ready:
                worker_id, _, *message = backend.recv_multipart()
                if message != [READY]:  # a reply: [client_id, b'', reply]
                    frontend.send_multipart(message)
                idle.append(worker_id)
            if frontend in ready:
                client_id, _, request = frontend.recv_multipart()
                backend.send_multipart([idle.pop(0), b"", client_id, b"", request])
    except zmq.ContextTerminated:
        pass
    finally:
        frontend.close()
        backend.close()
    ### END SOLUTION


def start_thread(function, *args) -> threading.Thread:
    """Given (not your work): run function(*args) in a daemon thread of its own."""
    thread = threading.Thread(target=function, args=args, daemon=True)
    thread.start()
    return thread


def loopback_url() -> str:
    """Given: a tcp:// URL on a loopback port that is free right now (the kernel picks it), never a fixed one."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return "tcp://127.0.0.1:%d" % probe.getsockname()[1]


def process_all(payloads, handle, workers: int = 4, clients: int = 1) -> list[bytes]:
    """Every payload through a broker, `workers` workers and `clients` clients; the replies in payload order.

    The nodes are threads sharing one context, on free loopback ports; the clients
    share the payloads out. Every node is stopped before it returns. If a client
    gives up (TimeoutError), every node is stopped and the TimeoutError raised.
    """
    ### BEGIN SOLUTION
    payloads = list(payloads)
    if clients < 1:
        raise ValueError(f"process_all needs at least one client, not {clients}")
    zcontext = zmq.Context()  # shared by every node: its term() stops them all
    frontend_url, backend_url = loopback_url(), loopback_url()
    nodes = [start_thread(broker, zcontext, frontend_url, backend_url)]
    nodes += [start_thread(worker, zcontext, backend_url, handle) for _ in range(workers)]
    finished = queue.Queue()  # (client number, its replies or what it raised)

    def run_client(number: int) -> None:
        try:
            finished.put((number, client(zcontext, frontend_url, payloads[number::clients])))
        except Exception as exc:  # handed to process_all's own thread, which raises it
            finished.put((number, exc))

    nodes += [start_thread(run_client, number) for number in range(clients)]
    replies = [b""] * len(payloads)
    try:
        for _ in range(clients):
            number, outcome = finished.get()
            if isinstance(outcome, BaseException):
                raise outcome
            replies[number::clients] = outcome
    finally:
        zcontext.term()  # every node returns, its sockets closed
        for node in nodes:
            node.join()
    return replies
    ### END SOLUTION


def main():
    """Given: a batch of 20 ms requests through the queue with 1, 2 and 4 workers, and how long each took."""
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 40

    def handle(request: bytes) -> bytes:
        time.sleep(0.020)  # the work: 20 ms of waiting on something
        return request.upper()

    payloads = [b"request %d" % i for i in range(count)]
    for workers in 1, 2, 4:
        started = time.perf_counter()
        replies = process_all(payloads, handle, workers=workers, clients=4)
        seconds = time.perf_counter() - started
        assert replies == [p.upper() for p in payloads]
        print(f"{workers} worker(s): {count} requests in {seconds:.2f} s ({count / seconds:,.0f} requests/s)")


if __name__ == "__main__":
    main()
