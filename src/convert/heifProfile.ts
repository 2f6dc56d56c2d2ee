/** A `colr` box of type nclx: code points of ISO/IEC 23091-2. */
export interface Nclx {
  primaries: number;
  transfer: number;
  matrix: number;
  fullRange: boolean;
}

/**
 * The colour description of a HEIF file, from its `colr` property boxes (meta > iprp > ipco): an ICC
 * profile (iPhones tag their Display P3 photos so), or nclx code points (other writers). libheif returns
 * the pixels as coded, in those colours: they must be converted to sRGB with them.
 */
export function heifColour(file: Uint8Array): { icc?: Buffer; nclx?: Nclx } {
  const buf = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  const found: { icc?: Buffer; nclx?: Nclx } = {};
  for (const box of properties(buf)) {
    const kind = box.type === "colr" && box.end - box.body > 4 ? buf.toString("latin1", box.body, box.body + 4) : "";
    if ((kind === "prof" || kind === "rICC") && !found.icc) found.icc = Buffer.from(buf.subarray(box.body + 4, box.end));
    if (kind === "nclx" && box.end - box.body >= 11 && !found.nclx) {
      found.nclx = {
        primaries: buf.readUInt16BE(box.body + 4),
        transfer: buf.readUInt16BE(box.body + 6),
        matrix: buf.readUInt16BE(box.body + 8),
        fullRange: (buf[box.body + 10]! & 0x80) !== 0,
      };
    }
  }
  return found;
}

/** The pixels of the largest image a HEIF file declares (its `ispe` properties): what decoding it takes; 0 if none. */
export function heifPixels(file: Uint8Array): number {
  const buf = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  let most = 0;
  for (const box of properties(buf)) {
    if (box.type === "ispe" && box.end - box.body >= 12)
      most = Math.max(most, buf.readUInt32BE(box.body + 4) * buf.readUInt32BE(box.body + 8));
  }
  return most;
}

/** The item property boxes of a HEIF file (meta > iprp > ipco). */
function* properties(buf: Buffer): Generator<Box> {
  const meta = findBox(buf, 0, buf.length, "meta");
  const iprp = meta && findBox(buf, meta.body + 4, meta.end, "iprp"); // meta is a full box: skip version + flags
  const ipco = iprp && findBox(buf, iprp.body, iprp.end, "ipco");
  for (let at = ipco?.body ?? 0; ipco && at + 8 <= ipco.end; ) {
    const box = readBox(buf, at, ipco.end);
    if (!box) return;
    yield box;
    at = box.end;
  }
}

export interface Box {
  type: string;
  body: number;
  end: number;
}

export function readBox(buf: Buffer, at: number, limit: number): Box | undefined {
  if (at + 8 > limit) return undefined;
  let size = buf.readUInt32BE(at);
  const type = buf.toString("latin1", at + 4, at + 8);
  let body = at + 8;
  if (size === 1) {
    if (at + 16 > limit) return undefined;
    size = Number(buf.readBigUInt64BE(at + 8));
    body = at + 16;
  } else if (size === 0) size = limit - at;
  const end = at + size;
  return size >= body - at && end <= limit ? { type, body, end } : undefined;
}

export function findBox(buf: Buffer, start: number, end: number, type: string): Box | undefined {
  for (let at = start; at < end; ) {
    const box = readBox(buf, at, end);
    if (!box) return undefined;
    if (box.type === type) return box;
    at = box.end;
  }
  return undefined;
}
