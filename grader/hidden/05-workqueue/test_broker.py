"""05-workqueue: the load-balancing broker, alone, between clients and workers of the judge's that join late,
answer slowly, or vanish in the middle of a request."""
from __future__ import annotations

import time

import pytest
import zmq
from workqueue_peers import FakeClient, FakeWorker, first_to_receive, quiet
from zmq_peers import QUIET, free_url


class Queue:
    """A broker of the student's, with the judge's clients and workers around it."""

    def __init__(self, nodes, peers):
        self.peers, self.frontend, self.backend = peers, free_url(), free_url()
        self.node = nodes("broker", self.frontend, self.backend)

    def worker(self, name: bytes, ready: bool = True) -> FakeWorker:
        worker = FakeWorker(self.peers, self.backend, name, self.node)
        if ready:
            worker.ready()
        return worker

    def client(self, name: str) -> FakeClient:
        return FakeClient(self.peers, self.frontend, name, self.node)


@pytest.fixture
def queue(nodes, peers) -> Queue:
    return Queue(nodes, peers)


@pytest.mark.points(4)
def test_broker_passes_requests_and_replies_between_clients_and_workers(queue):
    """Three clients, three requests each, two workers: each request reaches a worker as [client_id, b'', request],
    each reply reaches its client, and a worker is idle again after each reply."""
    workers = [queue.worker(b"w1"), queue.worker(b"w2")]
    clients = {queue.client(f"c{n}"): [b"c%d-r%d" % (n, r) for r in range(3)] for n in range(3)}
    answered = {client: [] for client in clients}
    for client, requests in clients.items():
        client.send(requests[0])
    poller = zmq.Poller()
    for peer in [*workers, *clients]:
        poller.register(peer.sock, zmq.POLLIN)
    deadline = time.monotonic() + 10
    while any(len(answered[c]) < 3 for c in clients) and time.monotonic() < deadline:
        ready = dict(poller.poll(20))
        for worker in workers:
            if worker.sock in ready:
                client_id, request = worker.take()
                worker.reply(client_id, request * 2)
        for client, requests in clients.items():
            if client.sock in ready:
                answered[client].append(client.receive())
                if len(answered[client]) < 3:
                    client.send(requests[len(answered[client])])
        if (ended := queue.node.ended()) is not None:
            pytest.fail(f"the broker ended: {ended}", pytrace=False)
    done = sum(map(len, answered.values()))
    assert done == 9, (f"after 10 s only {done} of 9 requests had been answered: is a worker idle again after "
                       "each reply it sends?")
    for client, requests in clients.items():
        assert answered[client] == [r * 2 for r in requests], (
            f"client {client.name} got {answered[client]!r}; the workers answered each request r with r * 2")


@pytest.mark.points(4)
def test_broker_gives_each_request_to_the_worker_idle_longest(queue):
    """Least recently used: with w2, w3 and w1 idle in that order, the next requests go to w2, w3, w1."""
    workers = [queue.worker(name, ready=False) for name in (b"w1", b"w2", b"w3")]
    clients = [queue.client(f"c{n}") for n in range(1, 4)]
    held = {}
    for worker, client in zip(workers, clients):  # one at a time, so the broker hears of them in this order
        worker.ready()
        client.send(b"first from " + client.name.encode())
        held[worker] = worker.take("the only idle worker's request")
    for worker, client in zip([workers[1], workers[2], workers[0]], [clients[1], clients[2], clients[0]]):
        worker.reply(held[worker][0], b"done")
        client.receive()  # the broker has heard this reply: the worker is idle from now
    order = []
    for client in clients:
        client.send(b"next from " + client.name.encode())
        worker, client_id, _ = first_to_receive(workers, f"the request from {client.name}", queue.node)
        order.append(worker.name.decode())
        worker.reply(client_id, b"done")
        client.receive()
    assert order == ["w2", "w3", "w1"], (
        f"w2, w3 and w1 became idle in that order, and the next three requests went to {', '.join(order)}: each "
        "request goes to the worker that has been idle longest")


@pytest.mark.points(4)
def test_broker_never_gives_a_busy_worker_a_second_request(queue):
    """A slow worker holding a request gets nothing more until it replies, however many requests come."""
    slow = queue.worker(b"slow")
    first = queue.client("c0")
    first.send(b"a slow one")
    held = slow.take("the first request")
    fast = queue.worker(b"fast")
    clients = [queue.client(f"c{n}") for n in range(1, 5)]
    for client in clients:
        client.send(b"quick from " + client.name.encode())
    for _ in clients:
        worker, client_id, request = first_to_receive([slow, fast], "the next quick request", queue.node)
        assert worker is fast, f"the broker handed {request!r} to the slow worker while it was still busy"
        fast.reply(client_id, request * 2)
    for client in clients:
        assert client.receive() == (b"quick from " + client.name.encode()) * 2
    assert quiet(slow.sock) == [], "the broker handed the busy slow worker a second request"
    slow.reply(held[0], b"slow done")
    assert first.receive() == b"slow done"


@pytest.mark.points(4)
def test_broker_keeps_requests_waiting_until_a_worker_is_ready(queue):
    """Requests that come while no worker is idle wait, each client's in order; a worker that joins later gets them."""
    c1, c2 = queue.client("c1"), queue.client("c2")
    sent = {c1: [b"c1-1", b"c1-2", b"c1-3"], c2: [b"c2-1", b"c2-2"]}
    for client, requests in sent.items():
        for request in requests:
            client.send(request)
    time.sleep(QUIET)  # no worker yet: the requests wait
    late = queue.worker(b"late")
    taken = []
    for _ in range(5):
        client_id, request = late.take("a request that waited for a worker")
        taken.append(request)
        late.reply(client_id, request * 2)
    for client, requests in sent.items():
        mine = [r for r in taken if r in requests]
        assert mine == requests, (
            f"client {client.name} sent {requests!r} before any worker was ready; the late worker got "
            f"{mine!r} of them")
        assert [client.receive() for _ in requests] == [r * 2 for r in requests]


@pytest.mark.points(3)
def test_broker_sends_each_reply_to_the_client_that_asked(queue):
    """Each reply goes to the client whose id it carries, whatever the order replies come in, and a client that
    retries on a new socket after its worker vanished gets its reply there."""
    w1, c1 = queue.worker(b"w1"), queue.client("c1")
    c1.send(b"from c1")
    id1, _ = w1.take()
    w2, c2 = queue.worker(b"w2"), queue.client("c2")
    c2.send(b"from c2")
    id2, _ = w2.take()
    w2.reply(id2, b"for c2")
    assert c2.receive() == b"for c2"
    assert quiet(c1.sock) == [], "c2's reply went to c1 as well"
    w1.reply(id1, b"for c1")
    assert c1.receive() == b"for c1", "the reply for c1 did not reach c1"
    c1.send(b"again from c1")
    worker, _, _ = first_to_receive([w1, w2], "c1's second request", queue.node)
    worker.vanish()  # in the middle of the request
    c1.new_socket()
    c1.send(b"again from c1")
    other = w2 if worker is w1 else w1
    client_id, request = other.take("c1's retry, its first worker gone")
    other.reply(client_id, b"for c1, at last")
    assert c1.receive("the reply to its retry") == b"for c1, at last"
