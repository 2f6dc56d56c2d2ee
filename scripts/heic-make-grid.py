#!/usr/bin/env python3
"""Builds a HEIC whose primary image is a grid of separately coded tiles, as iPhones write them
(512x512 HEVC tiles). heif-enc 1.15 cannot; this takes one single-image HEIC per tile (row-major,
all the same size, made by heif-enc) and assembles the grid around their coded data.

Usage: heic-make-grid.py OUT COLUMNS ROWS [--size WxH] [--nclx P,T,M,F] TILE.heic...

--size: the picture's size when the tiles overhang it (an iPhone's 4032x3024 is 8x6 tiles of 512,
cropped). A colr box (the ICC profile heif-enc copies from a tagged PNG) on the first tile is given to
the grid as well, as iPhones tag their Display P3 pictures. --nclx gives the grid a colr box of type
nclx instead (colour primaries, transfer characteristics, matrix coefficients, full range 0/1), as
other writers tag theirs.
"""
import struct
import sys

from heif_boxes import boxes, find


def box(kind, payload):
    return struct.pack(">I4s", 8 + len(payload), kind.encode()) + payload


def full_box(kind, version, flags, payload):
    return box(kind, struct.pack(">I", (version << 24) | flags) + payload)


def read_tile(path):
    """(hvcC box bytes, width, height, coded bytes) of a single-image HEIC written by heif-enc."""
    data = open(path, "rb").read()
    meta_at, meta_size = find(data, 0, len(data), "meta")
    body, end = meta_at + 12, meta_at + meta_size
    iprp_at, iprp_size = find(data, body, end, "iprp")
    ipco_at, ipco_size = find(data, iprp_at + 8, iprp_at + iprp_size, "ipco")
    hvcc_at, hvcc_size = find(data, ipco_at + 8, ipco_at + ipco_size, "hvcC")
    ispe_at, _ = find(data, ipco_at + 8, ipco_at + ipco_size, "ispe")
    colr = b""
    for at, size, kind in boxes(data, ipco_at + 8, ipco_at + ipco_size):
        if kind == "colr":
            colr = data[at:at + size]
    width, height = struct.unpack(">II", data[ispe_at + 12:ispe_at + 20])
    iloc_at, _ = find(data, body, end, "iloc")
    version, sizes, base_size = data[iloc_at + 8], data[iloc_at + 12], data[iloc_at + 13] >> 4
    count = struct.unpack(">H", data[iloc_at + 14:iloc_at + 16])[0]
    if version != 0 or sizes != 0x44 or base_size not in (0, 4) or count != 1:
        raise SystemExit("unexpected iloc layout")
    p = iloc_at + 16 + 4  # item_ID, data_reference_index
    base = struct.unpack(">I", data[p:p + 4])[0] if base_size else 0
    p += base_size
    extents, offset, length = struct.unpack(">HII", data[p:p + 10])
    if extents != 1:
        raise SystemExit("unexpected extent count")
    start = base + offset
    return data[hvcc_at:hvcc_at + hvcc_size], width, height, data[start:start + length], colr


def main(out, columns, rows, tiles, size=None, nclx=None):
    tiles = [read_tile(t) for t in tiles]
    tw, th = tiles[0][1], tiles[0][2]
    width, height = size or (tw * columns, th * rows)
    colr = tiles[0][4]
    if nclx:
        primaries, transfer, matrix, full = nclx
        colr = box("colr", b"nclx" + struct.pack(">HHHB", primaries, transfer, matrix, full << 7))
    n = len(tiles)
    grid_id, tile_ids = 1, list(range(2, 2 + n))
    ftyp = box("ftyp", b"heic" + struct.pack(">I", 0) + b"mif1heic")
    hdlr = full_box("hdlr", 0, 0, struct.pack(">I", 0) + b"pict" + b"\0" * 12 + b"\0")
    pitm = full_box("pitm", 0, 0, struct.pack(">H", grid_id))
    infes = [full_box("infe", 2, 0, struct.pack(">HH", grid_id, 0) + b"grid" + b"\0")]
    infes += [full_box("infe", 2, 1, struct.pack(">HH", i, 0) + b"hvc1" + b"\0") for i in tile_ids]  # flag 1: hidden
    iinf = full_box("iinf", 0, 0, struct.pack(">H", len(infes)) + b"".join(infes))
    iref = full_box("iref", 0, 0, box("dimg", struct.pack(">HH", grid_id, n) + b"".join(struct.pack(">H", i) for i in tile_ids)))
    grid_data = struct.pack(">BBBBHH", 0, 0, rows - 1, columns - 1, width, height)
    idat = box("idat", grid_data)
    # properties: 1 = ispe(full), 2 = ispe(tile), 3.. = each tile's hvcC, then the colr box if any
    ispe = lambda w, h: full_box("ispe", 0, 0, struct.pack(">II", w, h))
    props = [ispe(width, height), ispe(tw, th)] + [t[0] for t in tiles] + ([colr] if colr else [])
    ipco = box("ipco", b"".join(props))
    grid_props = [1] + ([3 + n] if colr else [])
    assoc = [struct.pack(">HB", grid_id, len(grid_props)) + bytes(grid_props)]
    assoc += [struct.pack(">HB", i, 2) + bytes([0x80 | (3 + k), 2]) for k, i in enumerate(tile_ids)]
    ipma = full_box("ipma", 0, 0, struct.pack(">I", len(assoc)) + b"".join(assoc))
    iprp = box("iprp", ipco + ipma)

    def iloc(mdat_start):
        entries = [struct.pack(">HHHHII", grid_id, 1, 0, 1, 0, len(grid_data))]  # construction method 1: idat
        at = mdat_start
        for i, t in zip(tile_ids, tiles):
            entries.append(struct.pack(">HHHII", i, 0, 1, at, len(t[3])))
            at += len(t[3])
        # version 1: offset_size 4, length_size 4, base_offset_size 0, index_size 0; construction method field
        body = bytes([0x44, 0x00]) + struct.pack(">H", len(entries))
        for e, (i, *_rest) in zip(entries, [(grid_id,)] + [(i,) for i in tile_ids]):
            if i == grid_id:
                body += e
            else:
                item, ref, count, off, length = struct.unpack(">HHHII", e)
                body += struct.pack(">HHHHII", item, 0, ref, count, off, length)
        return full_box("iloc", 1, 0, body)

    def meta(mdat_start):
        return full_box("meta", 0, 0, hdlr + pitm + iloc(mdat_start) + iinf + iref + iprp + idat)

    head = len(ftyp) + len(meta(0)) + 8
    mdat = box("mdat", b"".join(t[3] for t in tiles))
    open(out, "wb").write(ftyp + meta(head) + mdat)


if __name__ == "__main__":
    args = sys.argv[4:]
    size = nclx = None
    while args[:1] in (["--size"], ["--nclx"]):
        if args[0] == "--size":
            size = tuple(int(v) for v in args[1].split("x"))
        else:
            nclx = tuple(int(v) for v in args[1].split(","))
        args = args[2:]
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), args, size, nclx)
