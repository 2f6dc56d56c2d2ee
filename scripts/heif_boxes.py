"""Walking ISO-BMFF boxes (HEIF/HEIC), for the fixture scripts beside this file."""
import struct


def boxes(data, start, end):
    """(offset, size, type) of each box between start and end."""
    at = start
    while at < end:
        size, kind = struct.unpack(">I4s", data[at:at + 8])
        yield at, size, kind.decode("latin1")
        at += size


def find(data, start, end, kind):
    """(offset, size) of the first box of this type between start and end."""
    for at, size, k in boxes(data, start, end):
        if k == kind:
            return at, size
    raise SystemExit(f"no {kind} box")
