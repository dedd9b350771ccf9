// Small files whose type their bytes prove (for the sniffer and the end-to-end tests), and a way to grow one.
import { deflateSync } from "node:zlib";

function crc32(buf: Buffer): number {
  let c = ~0;
  for (const byte of buf) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return ~c >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "latin1"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** A valid PNG of `width`×`height` noisy pixels (seeded), so its size grows with its area. */
export function pngImage(width = 1, height = 1, seed = 1): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  const rows: Buffer[] = [];
  let x = seed;
  for (let y = 0; y < height; y++) {
    const row = Buffer.alloc(1 + width * 3);
    for (let i = 1; i < row.length; i++) {
      x = (x * 1103515245 + 12345) & 0x7fffffff;
      row[i] = x & 0xff;
    }
    rows.push(row);
  }
  return Buffer.concat([Buffer.from("89504e470d0a1a0a", "hex"), chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(Buffer.concat(rows), { level: 0 })), chunk("IEND", Buffer.alloc(0))]);
}

/** A PNG of at least `bytes` bytes. */
export function pngOfAtLeast(bytes: number, seed = 1): Buffer {
  const side = Math.ceil(Math.sqrt(bytes / 3)) + 1;
  return pngImage(side, side, seed);
}

/** The start of a Windows executable (MZ header, PE signature). */
export function windowsExecutable(): Buffer {
  const buf = Buffer.alloc(512);
  buf.write("MZ", 0, "latin1");
  buf.writeUInt32LE(0x80, 0x3c);
  buf.write("PE\0\0", 0x80, "latin1");
  return buf;
}

/** An ELF executable's first bytes (no sniffer signature of its own: it must become a plain binary file). */
export function elfExecutable(): Buffer {
  return Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]), Buffer.alloc(256, 0)]);
}

export function pdfDocument(): Buffer {
  return Buffer.from("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n", "latin1");
}

/** An Ogg Opus stream's first page (what voice messages are). */
export function oggOpus(): Buffer {
  const page = Buffer.alloc(28 + 19);
  page.write("OggS", 0, "latin1");
  page[4] = 0;
  page[5] = 2;
  page[26] = 1;
  page[27] = 19;
  page.write("OpusHead", 28, "latin1");
  page[36] = 1;
  page[37] = 1;
  return Buffer.concat([page, Buffer.alloc(64)]);
}
