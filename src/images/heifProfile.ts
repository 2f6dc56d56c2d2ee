/**
 * The ICC profile of a HEIF file, read from its `colr` property box (meta > iprp > ipco). iPhones tag
 * their photos Display P3 this way; libheif returns the pixels as coded, so the profile must travel with
 * them for the colours to be converted to sRGB correctly.
 */
export function heifIccProfile(file: Uint8Array): Buffer | undefined {
  const buf = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  const meta = findBox(buf, 0, buf.length, "meta");
  if (!meta) return undefined;
  const iprp = findBox(buf, meta.body + 4, meta.end, "iprp"); // meta is a full box: skip version + flags
  const ipco = iprp && findBox(buf, iprp.body, iprp.end, "ipco");
  if (!ipco) return undefined;
  for (let at = ipco.body; at + 8 <= ipco.end; ) {
    const box = readBox(buf, at, ipco.end);
    if (!box) return undefined;
    if (box.type === "colr" && box.end - box.body > 4) {
      const kind = buf.toString("latin1", box.body, box.body + 4);
      if (kind === "prof" || kind === "rICC") return Buffer.from(buf.subarray(box.body + 4, box.end));
    }
    at = box.end;
  }
  return undefined;
}

interface Box {
  type: string;
  body: number;
  end: number;
}

function readBox(buf: Buffer, at: number, limit: number): Box | undefined {
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

function findBox(buf: Buffer, start: number, end: number, type: string): Box | undefined {
  for (let at = start; at < end; ) {
    const box = readBox(buf, at, end);
    if (!box) return undefined;
    if (box.type === type) return box;
    at = box.end;
  }
  return undefined;
}
