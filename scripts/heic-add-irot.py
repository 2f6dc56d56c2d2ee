#!/usr/bin/env python3
"""Adds an `irot` (rotation) property to the primary image of a HEIF file, as iPhones write it.

heif-enc cannot write one; this rewrites the boxes so the test suite has a real rotated HEIC.
Usage: heic-add-irot.py IN OUT ANGLE   (ANGLE: 1, 2 or 3 = 90, 180, 270 degrees anti-clockwise)
"""
import struct
import sys

from heif_boxes import boxes, find


def main(src, dst, angle):
    data = bytearray(open(src, "rb").read())
    meta_at, meta_size = find(data, 0, len(data), "meta")
    body = meta_at + 12  # full box: size, type, version+flags
    pitm_at, _ = find(data, body, meta_at + meta_size, "pitm")
    primary = struct.unpack(">H", data[pitm_at + 12:pitm_at + 14])[0]
    iprp_at, iprp_size = find(data, body, meta_at + meta_size, "iprp")
    ipco_at, ipco_size = find(data, iprp_at + 8, iprp_at + iprp_size, "ipco")
    ipma_at, ipma_size = find(data, iprp_at + 8, iprp_at + iprp_size, "ipma")
    count = sum(1 for _ in boxes(data, ipco_at + 8, ipco_at + ipco_size))
    irot_index = count + 1

    version, flags = data[ipma_at + 8], int.from_bytes(data[ipma_at + 9:ipma_at + 12], "big")
    wide_ids, wide_index = version >= 1, flags & 1
    at = ipma_at + 16
    entries = struct.unpack(">I", data[ipma_at + 12:ipma_at + 16])[0]
    insert_at = None
    for _ in range(entries):
        item = int.from_bytes(data[at:at + (4 if wide_ids else 2)], "big")
        at += 4 if wide_ids else 2
        n = data[at]
        count_at = at
        at += 1 + n * (2 if wide_index else 1)
        if item == primary:
            insert_at = (count_at, at)
    if insert_at is None:
        raise SystemExit("primary item has no property associations")
    assoc = (0x8000 | irot_index).to_bytes(2, "big") if wide_index else bytes([0x80 | irot_index])
    irot = struct.pack(">I4sB", 9, b"irot", angle & 3)
    delta = len(assoc) + len(irot)

    # Shift absolute offsets in iloc (file offsets into mdat, which follows meta) before moving bytes.
    iloc_at, _ = find(data, body, meta_at + meta_size, "iloc")
    v = data[iloc_at + 8]
    p = iloc_at + 12
    offset_size, length_size = data[p] >> 4, data[p] & 15
    base_size, index_size = data[p + 1] >> 4, (data[p + 1] & 15) if v in (1, 2) else 0
    p += 2
    items = int.from_bytes(data[p:p + (4 if v == 2 else 2)], "big")
    p += 4 if v == 2 else 2
    for _ in range(items):
        p += 4 if v == 2 else 2
        method = 0
        if v in (1, 2):
            method = int.from_bytes(data[p:p + 2], "big") & 15
            p += 2
        p += 2  # data_reference_index
        base = p
        p += base_size
        extents = int.from_bytes(data[p:p + 2], "big")
        p += 2
        shift_base = method == 0 and base_size > 0
        if shift_base:
            data[base:base + base_size] = (int.from_bytes(data[base:base + base_size], "big") + delta).to_bytes(base_size, "big")
        for _ in range(extents):
            p += index_size
            if method == 0 and not shift_base and offset_size > 0:
                off = int.from_bytes(data[p:p + offset_size], "big") + delta
                data[p:p + offset_size] = off.to_bytes(offset_size, "big")
            p += offset_size + length_size

    count_at, end_at = insert_at
    data[count_at] += 1
    data[end_at:end_at] = assoc
    ipco_end = ipco_at + ipco_size
    data[ipco_end:ipco_end] = irot  # ipco comes before ipma, so ipma's positions move by len(irot)
    for box_at, grow in ((ipma_at + len(irot), len(assoc)), (ipco_at, len(irot)), (iprp_at, delta), (meta_at, delta)):
        size = struct.unpack(">I", data[box_at:box_at + 4])[0]
        data[box_at:box_at + 4] = struct.pack(">I", size + grow)
    if ipma_at < ipco_at:
        raise SystemExit("ipma before ipco: not handled")
    open(dst, "wb").write(data)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
