"""process_all's clients as the judge saw them cross loopback TCP (pure).

From the connections captured while process_all ran (loopback.py), each end's ZMTP decoded (zmtp.py): the
client side of the queue is every connection that a REQ socket made to a port other than the broker's backend
(the ports from which the judge's workers got their requests), with what it asked and what came back on it. A
payload counts as having gone through the queue only if a REQ asked it there and its reply came back on the same
connection; a client's retry is the same payload asked on a new connection (a REQ socket's fresh one).
"""
from __future__ import annotations

from dataclasses import dataclass

from loopback import Connection
from zmtp import decode


@dataclass
class Asking:
    """One REQ socket's connection to the frontend: the requests it sent, the replies that came back."""

    port: int  # the frontend's
    asked: list[bytes]
    answered: list[bytes]


def askings(connections: list[Connection], backends: set[int]) -> tuple[list[Asking], str]:
    """The REQ connections to ports other than `backends`, and a line on everything else that was seen."""
    found, others = [], {}
    for c in connections:
        sent = decode(c.sent)
        if sent.socket_type == "REQ" and c.server[1] not in backends:
            found.append(Asking(c.server[1], [m[-1] for m in sent.messages if m],
                                [m[-1] for m in decode(c.received).messages if m]))
        else:
            kind = f"{sent.socket_type or 'no ZMTP'} to port {c.server[1]}"
            others[kind] = others.get(kind, 0) + 1
    seen = "; ".join(f"{count} connection(s) from {kind}" for kind, count in list(others.items())[:6])
    return found, f"besides: {seen or 'nothing'}"


def shown(payload: bytes) -> str:
    return repr(payload[:40])


def client_problems(seen: list[Asking], payloads: list[bytes], replies: list[bytes], clients: int) -> list[str]:
    """[] when every payload was asked by a REQ socket at the frontend and its reply came back on that connection,
    with at least `clients` REQ connections asking; otherwise what was missing."""
    unasked = [p for p in payloads if not any(p in a.asked for a in seen)]
    if unasked:
        return [f"{len(unasked)} of the {len(payloads)} payloads (the first: {shown(unasked[0])}) never crossed a "
                f"connection from a REQ socket to the broker's frontend (the judge saw {len(seen)} REQ "
                "connection(s) to a port of the process's other than the backend): each client sends its payloads "
                "there, over loopback TCP"]
    problems = []
    lost = [p for p, r in zip(payloads, replies) if not any(p in a.asked and r in a.answered for a in seen)]
    if lost:
        problems.append(f"the reply to {shown(lost[0])} (and {len(lost) - 1} more) never came back to a REQ socket "
                        "that had asked it, on its connection to the frontend")
    asking = [a for a in seen if set(a.asked) & set(payloads)]
    if len(asking) < clients:
        problems.append(f"{len(asking)} REQ connection(s) to the frontend asked the payloads: with clients={clients}, "
                        "each client sends its share on a REQ socket of its own")
    return problems


def retried(seen: list[Asking], payload: bytes) -> bool:
    """Was `payload` asked on more than one connection (a client's retry, on a fresh socket)?"""
    return sum(payload in a.asked for a in seen) >= 2
