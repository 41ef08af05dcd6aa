"""What crossed loopback TCP while a call ran, as the kernel's packet tap saw it: the judge's own view of traffic
between sockets it does not own.

A packet socket (AF_PACKET) on `lo` sees a copy of every packet of the network namespace's loopback, the
grading's own (lockdown.py). Opening one takes CAP_NET_RAW in that namespace, which the judge holds as root but
not without root (it runs in a user namespace the grading made, with no capability left after exec): so the
grading opens it and hands it down (`--loopback-capture-fd`, lockdown.packet_socket), and the judge only binds
it to `lo`. The copies land in a ring the kernel fills in memory mapped here (TPACKET_V3), which a thread of the
judge's empties as it goes; the kernel counts every packet it had no room for, and a copy cut short says so: a
capture is `complete`, or says what it missed, never silently short.

`connections` (pure) puts each TCP connection's bytes back in order, each way, from the segments captured.
"""
from __future__ import annotations

import ctypes
import mmap
import select
import socket
import struct
import threading
import time
from dataclasses import dataclass, field

SOL_PACKET, PACKET_RX_RING, PACKET_VERSION, PACKET_STATISTICS = 263, 5, 10, 6
SO_ATTACH_FILTER = 26
TPACKET_V3, TP_STATUS_USER, TP_STATUS_KERNEL = 2, 1, 0
ETH_P_ALL, ETH_P_IP, ETH_P_IPV6 = 0x0003, 0x0800, 0x86DD
PACKET_OUTGOING = 4  # loopback shows each packet twice, leaving and arriving: only arrivals are kept
SNAPLEN = 1 << 17  # more than any loopback packet (64 KiB with segmentation offload)
BLOCK = 1 << 18  # bytes a ring block holds: a few packets of the largest size
BLOCKS = 128  # 32 MiB, or 2.5 s of a slow trickle (a block each RETIRE_MS), for the judge's thread to fall behind
RETIRE_MS = 20  # the kernel hands over a block that is not full this long after its first packet
KEPT = 32 << 20  # bytes of blocks one capture keeps at most (a 10,000-point pipeline: 10 MiB): beyond, a flood
# is counted as missed, not kept

# A classic BPF program: keep TCP over IPv4 or IPv6 as it arrives, up to SNAPLEN bytes; drop the rest.
_SKF_AD_PKTTYPE = -0x1000 + 4
_FILTER = [
    (0x20, 0, 0, _SKF_AD_PKTTYPE & 0xFFFFFFFF),  # ld  pkttype
    (0x15, 8, 0, PACKET_OUTGOING),              # jeq OUTGOING -> drop
    (0x28, 0, 0, 12),                           # ldh [12]: the ethertype (loopback's header is Ethernet's)
    (0x15, 0, 2, ETH_P_IP),                     # jeq IPv4 ? next : ipv6
    (0x30, 0, 0, 23),                           # ldb [23]: IPv4's protocol
    (0x15, 3, 4, socket.IPPROTO_TCP),           # jeq TCP ? keep : drop
    (0x15, 0, 3, ETH_P_IPV6),                   # ipv6: jeq IPv6 ? next : drop
    (0x30, 0, 0, 20),                           # ldb [20]: IPv6's next header
    (0x15, 0, 1, socket.IPPROTO_TCP),           # jeq TCP ? keep : drop
    (0x06, 0, 0, SNAPLEN),                      # keep
    (0x06, 0, 0, 0),                            # drop
]


@dataclass(frozen=True)
class Segment:
    """One TCP segment as it arrived on loopback."""

    source: tuple[str, int]
    destination: tuple[str, int]
    seq: int
    flags: int  # TCP's: FIN 1, SYN 2, RST 4, ACK 16
    payload: bytes


SYN, ACK = 2, 16


@dataclass
class Captured:
    """The segments captured during one call, and what, if anything, the capture missed."""

    segments: list[Segment]
    missed: list[str] = field(default_factory=list)  # why it may lack something; [] when complete

    @property
    def complete(self) -> bool:
        return not self.missed


class LoopbackTap:
    """A packet socket bound to `lo` with a ring of its own; `start` and `stop` mark out one call's traffic.

    While it runs, a thread of the judge's copies each block the kernel hands over and gives it back at once,
    so that the ring holds only what arrived since its last look (a block is handed over when full, or
    RETIRE_MS after its first packet)."""

    def __init__(self, sock: socket.socket, blocks: int = BLOCKS):
        self.sock, self.count = sock, blocks
        program = b"".join(struct.pack("HBBI", *op) for op in _FILTER)
        buffer = ctypes.create_string_buffer(program)
        sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, struct.pack("HL", len(_FILTER), ctypes.addressof(buffer)))
        sock.setsockopt(SOL_PACKET, PACKET_VERSION, TPACKET_V3)
        # tpacket_req3: block size, blocks, frame size, frames, retire timeout (ms), private size, feature flags
        frame = 1 << 11
        sock.setsockopt(SOL_PACKET, PACKET_RX_RING,
                        struct.pack("7I", BLOCK, blocks, frame, BLOCK // frame * blocks, RETIRE_MS, 0, 0))
        self.ring = mmap.mmap(sock.fileno(), BLOCK * blocks, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        self.next = 0  # the block the kernel fills next, in order
        self.blocks: list[bytes] = []  # copied since `start`
        self.packets = self.drops = 0  # as the kernel counted them since `start`
        self.kept = self.flooded = 0  # bytes of blocks kept, and packets not kept beyond KEPT
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def close(self) -> None:
        self.ring.close()
        self.sock.close()

    def _take(self) -> None:
        """Copy every block the kernel has handed over (up to KEPT bytes in all), and give each back."""
        while True:
            start = self.next * BLOCK
            status, count, _, length = struct.unpack_from("4I", self.ring, start + 8)
            if not status & TP_STATUS_USER:
                return
            if self.kept + length <= KEPT:
                self.blocks.append(self.ring[start:start + length])
                self.kept += length
            else:
                self.flooded += count
            struct.pack_into("I", self.ring, start + 8, TP_STATUS_KERNEL)
            self.next = (self.next + 1) % self.count

    def _count(self) -> None:
        """Add the kernel's counts since the last look (reading them starts them again)."""
        packets, drops, _ = struct.unpack("3I", self.sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 12))
        self.packets, self.drops = self.packets + packets, self.drops + drops

    def _run(self) -> None:
        ready = select.poll()
        ready.register(self.sock, select.POLLIN)
        while not self._stop.is_set():
            ready.poll(RETIRE_MS)
            self._take()

    def start(self) -> None:
        """Start keeping loopback's TCP traffic (anything the ring holds from before is thrown away)."""
        self.sock.bind(("lo", 0))
        self.blocks = []
        self._take()
        self._count()
        self.blocks, self.packets, self.drops, self.kept, self.flooded = [], 0, 0, 0, 0
        self._stop.clear()
        self.sock.bind(("lo", ETH_P_ALL))
        self._thread = threading.Thread(target=self._run, name="loopback-tap", daemon=True)
        self._thread.start()

    def stop(self, wait: float = 1.0) -> Captured:
        """Stop keeping traffic; the segments kept since `start`, in the order they arrived (after at most
        `wait` seconds for the kernel to hand over the last block)."""
        self.sock.bind(("lo", 0))
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        deadline = time.monotonic() + wait
        while True:
            self._take()
            self._count()
            frames = sum(struct.unpack_from("I", block, 12)[0] for block in self.blocks) + self.flooded
            if frames >= self.packets - self.drops or time.monotonic() > deadline:
                break
            time.sleep(RETIRE_MS / 1000)
        missed = [f"the kernel had no room for {self.drops} packet(s)"] if self.drops else []
        if self.flooded:
            missed.append(f"{self.flooded} packet(s) beyond the first {KEPT >> 20} MiB were not kept")
        if frames < self.packets - self.drops:
            missed.append(f"{self.packets - self.drops - frames} packet(s) were never handed over")
        packets = [frame for block in self.blocks for frame in _frames(block)]
        self.blocks = []
        cut = sum(short for short, _ in packets)
        if cut:
            missed.append(f"{cut} packet(s) were cut short")
        return Captured([s for _, data in packets if (s := segment(data)) is not None], missed)


def _frames(block: bytes):
    """(cut short?, frame) for each packet of a ring block, in order."""
    count, offset = struct.unpack_from("2I", block, 12)
    for _ in range(count):
        following, _, _, snaplen, length, _, mac = struct.unpack_from("6IH", block, offset)
        yield snaplen < length, block[offset + mac:offset + mac + snaplen]
        offset += following


def segment(frame: bytes) -> Segment | None:
    """The TCP segment in a loopback frame (an Ethernet header, then IPv4 or IPv6); None for anything else."""
    try:
        return _segment(frame)
    except (struct.error, IndexError, ValueError):
        return None


def _segment(frame: bytes) -> Segment | None:
    kind = struct.unpack_from("!H", frame, 12)[0]
    if kind == ETH_P_IP and frame[23] == socket.IPPROTO_TCP:
        header = (frame[14] & 0x0F) * 4
        total = struct.unpack_from("!H", frame, 16)[0]
        addresses = socket.inet_ntop(socket.AF_INET, frame[26:30]), socket.inet_ntop(socket.AF_INET, frame[30:34])
        tcp, end = 14 + header, 14 + total
    elif kind == ETH_P_IPV6 and frame[20] == socket.IPPROTO_TCP:
        addresses = socket.inet_ntop(socket.AF_INET6, frame[22:38]), socket.inet_ntop(socket.AF_INET6, frame[38:54])
        tcp, end = 54, 54 + struct.unpack_from("!H", frame, 18)[0]
    else:
        return None
    sport, dport, seq, _, offset_flags = struct.unpack_from("!HHIIH", frame, tcp)
    payload = bytes(frame[tcp + (offset_flags >> 12) * 4:end])
    return Segment((addresses[0], sport), (addresses[1], dport), seq, offset_flags & 0x3F, payload)


# -- connections, put back in order (pure) ---------------------------------------------------------------------


@dataclass
class Connection:
    """A TCP connection captured from its first segment (SYN): `client` connected to `server`."""

    client: tuple[str, int]
    server: tuple[str, int]
    sent: bytes  # client to server, in order
    received: bytes  # server to client


def _stream(isn: int, pieces: list[tuple[int, bytes]]) -> bytes:
    """The bytes after the initial sequence number `isn`, from (seq, payload) pieces in any order, overlaps and
    repeats included, up to the first that is missing (a capture that lost a segment says so: Captured.missed)."""
    out, end = bytearray(), (isn + 1) & 0xFFFFFFFF
    for seq, payload in sorted(pieces, key=lambda p: (p[0] - end) & 0xFFFFFFFF):
        skip = (end - seq) & 0xFFFFFFFF
        if skip >= 1 << 31:  # starts beyond what we have
            break
        if skip < len(payload):
            out += payload[skip:]
            end = (end + len(payload) - skip) & 0xFFFFFFFF
    return bytes(out)


def connections(segments: list[Segment]) -> list[Connection]:
    """Every connection whose opening (SYN, then SYN-ACK) was captured, its bytes each way in order."""
    opened: dict[tuple, int] = {}  # (from, to) -> initial sequence number of that direction
    pieces: dict[tuple, list[tuple[int, bytes]]] = {}
    order: list[tuple] = []  # (client, server), as each connection began
    for s in segments:
        way = (s.source, s.destination)
        if s.flags & SYN:
            if way not in opened and not s.flags & ACK:  # a SYN, not the SYN-ACK that answers it
                order.append(way)
            opened.setdefault(way, s.seq)
        elif s.payload:
            pieces.setdefault(way, []).append((s.seq, s.payload))
        if s.payload and s.flags & SYN:
            pieces.setdefault(way, []).append(((s.seq + 1) & 0xFFFFFFFF, s.payload))
    found = []
    for client, server in order:
        back = (server, client)
        if back in opened:
            found.append(Connection(client, server, _stream(opened[client, server], pieces.get((client, server), [])),
                                    _stream(opened[back], pieces.get(back, []))))
    return found
