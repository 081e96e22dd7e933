#!/usr/bin/env python3
"""What crossed the bridge: reads the tcpdump capture of a multi-host run and proves, from the bytes alone,
  - every TCP stream between namespaces is TLS from its first byte: the client's first record is a ClientHello to
    an expected server endpoint (and names it, if it sends SNI at all), the server answers with a ServerHello, and
    both directions parse as TLS records to the end (no cleartext record layer anywhere);
  - no HTTP/2 cleartext preface ("PRI * HTTP/2.0") appears in any stream;
  - none of N sampled 32-byte windows of any region's plaintext shard, nor its data key, nor any of N sampled
    windows of its ciphertext file (which the host hands its enclave over stdin, never over the network) appears
    in any reassembled stream.
The plaintext shard is obtained by decrypting the region's .encds file with its data key (formats.md section 5),
so the windows are exactly the bytes the enclave trains on.

    analyze.py --pcap CAP --server IP:PORT=NAME ... --region NAME:ENCDS:KEYFILE ... [--windows 2000] --out JSON
"""
import argparse
import hashlib
import json
import random
import struct
import sys

PREFACE = b"PRI * HTTP/2.0"
WINDOW = 32


def packets(path):
    """(src, sport, dst, dport, seq, flags, payload) of every IPv4/TCP frame in a pcap (Ethernet) file."""
    data = open(path, "rb").read()
    magic = data[:4]
    endian = {b"\xd4\xc3\xb2\xa1": "<", b"\xa1\xb2\xc3\xd4": ">", b"\x4d\x3c\xb2\xa1": "<", b"\xa1\xb2\x3c\x4d": ">"}.get(magic)
    if endian is None or struct.unpack(endian + "I", data[20:24])[0] != 1:
        sys.exit(f"{path}: not a pcap file of Ethernet frames")
    offset, other = 24, 0
    while offset + 16 <= len(data):
        _, _, caplen, _ = struct.unpack(endian + "IIII", data[offset:offset + 16])
        frame = data[offset + 16:offset + 16 + caplen]
        offset += 16 + caplen
        if len(frame) < 34 or frame[12:14] != b"\x08\x00":
            other += 1
            continue
        ip = frame[14:]
        ihl, total = (ip[0] & 15) * 4, struct.unpack(">H", ip[2:4])[0]
        if ip[9] != 6:
            other += 1
            continue
        tcp = ip[ihl:total]
        src, dst = ".".join(map(str, ip[12:16])), ".".join(map(str, ip[16:20]))
        sport, dport, seq = struct.unpack(">HHI", tcp[:8])
        yield src, sport, dst, dport, seq, tcp[13], tcp[(tcp[12] >> 4) * 4:]
    packets.other = other


class Stream:
    def __init__(self, client, server):
        self.client, self.server = client, server
        self.segments = {client: {}, server: {}}
        self.base = {}

    def add(self, sender, seq, flags, payload):
        if flags & 0x02:  # SYN: the next byte is the first of the stream
            self.base.setdefault(sender, (seq + 1) & 0xFFFFFFFF)
        if payload:
            base = self.base.setdefault(sender, seq)
            self.segments[sender][(seq - base) & 0xFFFFFFFF] = payload

    def runs(self, sender):
        """The sender's byte stream in sequence order (retransmissions overwrite), as its contiguous runs: a gap is
        bytes that never crossed the bridge (sent while a link was down and never delivered)."""
        runs, out, start = [], bytearray(), 0
        for position, payload in sorted(self.segments[sender].items()):
            if position > start + len(out):
                runs.append(bytes(out))
                out, start = bytearray(), position
            at = position - start
            out[at:at + len(payload)] = payload
        runs.append(bytes(out))
        return [r for r in runs if r]


def streams(path):
    found, current = [], {}
    for src, sport, dst, dport, seq, flags, payload in packets(path):
        a, b = (src, sport), (dst, dport)
        key = frozenset((a, b))
        stream = current.get(key)
        if flags & 0x12 == 0x02 and (stream is None or stream.base.get(a) != (seq + 1) & 0xFFFFFFFF):
            stream = current[key] = Stream(a, b)  # a SYN without ACK opens a new connection on this 4-tuple
            found.append(stream)
        elif stream is None:
            stream = current[key] = Stream(a, b)  # began before the capture: no direction known from the SYN
            stream.unknown_client = True
            found.append(stream)
        stream.add(a, seq, flags, payload)
    return found


def tls_records(data):
    """True if data is a sequence of TLS records (the last possibly cut off by the end of the capture)."""
    i = 0
    while i + 5 <= len(data):
        kind, major, length = data[i], data[i + 1], struct.unpack(">H", data[i + 3:i + 5])[0]
        if kind not in (20, 21, 22, 23) or major != 3 or length > 16384 + 2048:
            return False
        i += 5 + length
    return True


def hello(data, expected_type):
    """(sni or None, versions) of a ClientHello (type 1) or ServerHello (type 2) at the start of data, else None."""
    if len(data) < 9 or data[0] != 22 or data[1] != 3 or data[5] != expected_type:
        return None
    body = data[9:9 + struct.unpack(">I", b"\0" + data[6:9])[0]]
    try:
        i = 2 + 32
        i += 1 + body[i]
        if expected_type == 1:
            i += 2 + struct.unpack(">H", body[i:i + 2])[0]
            i += 1 + body[i]
        else:
            i += 3
        end = i + 2 + struct.unpack(">H", body[i:i + 2])[0]
        i += 2
        sni, versions = None, []
        while i + 4 <= end:
            kind, length = struct.unpack(">HH", body[i:i + 4])
            value = body[i + 4:i + 4 + length]
            if kind == 0 and len(value) > 5:
                sni = value[5:5 + struct.unpack(">H", value[3:5])[0]].decode("ascii", "replace")
            elif kind == 43:
                raw = value[1:] if expected_type == 1 else value
                versions = [struct.unpack(">H", raw[j:j + 2])[0] for j in range(0, len(raw) - 1, 2)]
            i += 4 + length
        return sni, versions
    except (IndexError, struct.error):
        return None


def decrypt_encds(path, key):
    """The plaintext of an ENCDS001 file (formats.md section 5), and its ciphertext records without the header."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    data = open(path, "rb").read()
    if data[:8] != b"ENCDS001":
        sys.exit(f"{path}: not an encrypted dataset")
    header_length, chunk, plain_length, count = struct.unpack("<HIQQ", data[10:32])
    header = data[:header_length]
    aad_prefix, aes, out = hashlib.sha256(header).digest(), AESGCM(key), bytearray()
    offset = header_length
    for index in range(count):
        size = min(chunk, plain_length - index * chunk)
        record = data[offset:offset + 12 + size + 16]
        aad = aad_prefix + struct.pack("<QB", index, 1 if index == count - 1 else 0)
        out += aes.decrypt(record[:12], record[12:], aad)
        offset += 12 + size + 16
    if len(out) != plain_length or out[:8] != b"EXAMPLE1":
        sys.exit(f"{path}: decrypted to {len(out)} bytes, expected an example set of {plain_length}")
    return bytes(out), data[header_length:]


def sample(data, count, rng, informative):
    """count distinct 32-byte windows at random offsets; with informative, only windows of 12+ distinct byte
    values (an image's black border is zeros, which would match any zero padding and prove nothing)."""
    windows, tries = set(), 0
    while len(windows) < count and tries < count * 200:
        tries += 1
        at = rng.randrange(0, len(data) - WINDOW)
        window = data[at:at + WINDOW]
        if not informative or len(set(window)) >= 12:
            windows.add(window)
    if len(windows) < count:
        sys.exit(f"only {len(windows)} informative windows found")
    return windows


def occurrences(blobs, needles):
    """The needles (all WINDOW bytes long) that occur anywhere in the blobs: one pass over every offset."""
    found = set()
    for blob in blobs:
        for i in range(len(blob) - WINDOW + 1):
            window = blob[i:i + WINDOW]
            if window in needles:
                found.add(window)
    return found


def inspect(pcap, servers, plaintext_needles, ciphertext_needles, keys):
    report = {"streams": 0, "tlsStreams": 0, "cleartextStreams": 0, "tls13Streams": 0, "emptyStreams": 0,
              "unexpectedServerStreams": 0, "streamsWithCaptureGaps": 0, "http2PrefaceFound": 0, "streamsByServer": {}, "sni": {}, "problems": []}
    blobs = []
    for stream in streams(pcap):
        if getattr(stream, "unknown_client", False) and stream.client in servers:
            stream.client, stream.server = stream.server, stream.client
        up_runs, down_runs = stream.runs(stream.client), stream.runs(stream.server)
        blobs += up_runs + down_runs
        if len(up_runs) > 1 or len(down_runs) > 1:
            report["streamsWithCaptureGaps"] += 1
        # The record layer is walked up to the first gap; the window search below covers every captured byte.
        up, down = (up_runs or [b""])[0], (down_runs or [b""])[0]
        name = f"{stream.client[0]}:{stream.client[1]} -> {stream.server[0]}:{stream.server[1]}"
        if not up and not down:
            report["emptyStreams"] += 1  # a connection attempt that carried nothing (e.g. while a link was down)
            continue
        report["streams"] += 1
        report["http2PrefaceFound"] += sum(PREFACE in run for run in up_runs + down_runs)
        expected = servers.get(stream.server)
        client_hello, server_hello = hello(up, 1), hello(down, 2)
        if expected is None:
            report["unexpectedServerStreams"] += 1
            report["problems"].append(f"{name}: not an expected server endpoint")
        report["streamsByServer"][expected or "unexpected"] = report["streamsByServer"].get(expected or "unexpected", 0) + 1
        sni = client_hello[0] if client_hello else None
        names_expected = sni is None or sni == stream.server[0] or (expected is not None and sni.split(".")[0] in expected)
        if client_hello and tls_records(up) and (not down or (server_hello and tls_records(down))) and names_expected and expected:
            report["tlsStreams"] += 1
            report["sni"][sni or "(none: IP address)"] = report["sni"].get(sni or "(none: IP address)", 0) + 1
            if server_hello and 0x0304 in server_hello[1]:
                report["tls13Streams"] += 1
        else:
            report["cleartextStreams"] += 1
            report["problems"].append(f"{name}: not TLS from its first byte (starts {up[:16]!r}, answer {down[:16]!r}, sni {sni})")

    found = occurrences(blobs, plaintext_needles | ciphertext_needles)
    report["plaintextWindowsFound"] = len(found & plaintext_needles)
    report["ciphertextWindowsFound"] = len(found & ciphertext_needles)
    report["dataKeysFound"] = sum(1 for key in keys if any(key in blob for blob in blobs))
    report["plaintextWindowsSampled"] = len(plaintext_needles)
    report["ciphertextWindowsSampled"] = len(ciphertext_needles)
    report["capturedStreamBytes"] = sum(len(b) for b in blobs)
    return report


def self_test(path, plaintext_needles, ciphertext_needles, keys):
    """The checks must see what they look for: a synthetic capture with one cleartext HTTP/2 stream that carries a
    plaintext window split across two segments, a ciphertext window and a data key must be flagged on every count."""
    window, cipher, key = sorted(plaintext_needles)[0], sorted(ciphertext_needles)[0], sorted(keys)[0]
    client, server = (bytes([10, 77, 0, 11]), 40000), (bytes([10, 77, 0, 1]), 7003)

    def frame(src, dst, seq, flags, payload=b""):
        tcp = struct.pack(">HHIIBBHHH", src[1], dst[1], seq, 0, 5 << 4, flags, 65535, 0, 0) + payload
        ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0, 64, 6, 0, src[0], dst[0])
        body = b"\0" * 12 + b"\x08\x00" + ip + tcp
        return struct.pack("<IIII", 0, 0, len(body), len(body)) + body

    first = PREFACE + b"\r\n\r\nSM\r\n\r\n" + window[:13]
    rest = window[13:] + cipher + key
    frames = [frame(client, server, 99, 0x02), frame(server, client, 499, 0x12),
              frame(client, server, 100, 0x18, first), frame(client, server, 100 + len(first), 0x18, rest),
              frame(server, client, 500, 0x18, b"\0\0\0\x04\0\0\0\0\0")]
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1) + b"".join(frames))
    r = inspect(path, {("10.77.0.1", 7003): "broker"}, plaintext_needles, ciphertext_needles, keys)
    caught = (r["streams"], r["cleartextStreams"], r["tlsStreams"], r["http2PrefaceFound"], r["plaintextWindowsFound"],
              r["ciphertextWindowsFound"], r["dataKeysFound"])
    if caught != (1, 1, 0, 1, 1, 1, 1):
        sys.exit(f"analyze.py self-test: the checks missed planted leaks: {caught}")
    return True


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pcap", required=True)
    parser.add_argument("--server", action="append", default=[], help="IP:PORT=NAME of an expected server endpoint")
    parser.add_argument("--region", action="append", default=[], help="NAME:ENCDS:KEYFILE")
    parser.add_argument("--windows", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=20261207)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    servers = {}
    for item in args.server:
        endpoint, name = item.split("=", 1)
        host, port = endpoint.rsplit(":", 1)
        servers[(host, int(port))] = name

    rng = random.Random(args.seed)
    plaintext_needles, ciphertext_needles, keys, sampled = set(), set(), set(), {}
    for item in args.region:
        region, encds, keyfile = item.split(":")
        key = open(keyfile, "rb").read()
        plaintext, ciphertext = decrypt_encds(encds, key)
        p, c = sample(plaintext, args.windows, rng, True), sample(ciphertext, args.windows, rng, False)
        plaintext_needles |= p
        ciphertext_needles |= c
        keys.add(key)
        sampled[region] = {"plaintextBytes": len(plaintext), "ciphertextBytes": len(ciphertext), "plaintextWindows": len(p), "ciphertextWindows": len(c)}

    self_tested = self_test(args.out + ".selftest.pcap", plaintext_needles, ciphertext_needles, keys)
    report = inspect(args.pcap, servers, plaintext_needles, ciphertext_needles, keys)
    report["analyzerSelfTestPassed"] = self_tested
    report["sampledRegions"] = sampled
    json.dump(report, open(args.out, "w"), indent=2)


if __name__ == "__main__":
    main()
