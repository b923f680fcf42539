/**
 * Reader for the IDX file format used by MNIST (http://yann.lecun.com/exdb/mnist/).
 *
 * Layout: a 4-byte magic number `0x00 0x00 <type> <ndims>`, then `ndims`
 * big-endian uint32 dimension sizes, then the data in row-major order.
 *
 * This module is platform-neutral (no Node imports) so it also runs in a
 * browser on bytes from `fetch`. Reading files from disk, including gzipped
 * ones, is done by `loadIdxFile` in `./mnist.ts`, which is Node-only.
 */

import { fail } from '../graph/error.js';

/** A parsed IDX file of unsigned bytes: its dimensions and its payload. */
export interface IdxArray {
  /** Dimension sizes from the header, outermost first, e.g. [60000, 28, 28]. */
  dims: number[];
  /**
   * The payload, `product(dims)` bytes. A view into the input buffer, not a
   * copy, so parsing a 47 MB file costs nothing; copy it if you need to
   * mutate it without touching the input.
   */
  data: Uint8Array;
}

/** IDX type codes, from the format description. */
const IDX_TYPES: Record<number, string> = {
  0x08: 'unsigned byte',
  0x09: 'signed byte',
  0x0b: 'short (int16)',
  0x0c: 'int (int32)',
  0x0d: 'float (float32)',
  0x0e: 'double (float64)',
};

const UBYTE = 0x08;

function hex(b: number): string {
  return '0x' + b.toString(16).padStart(2, '0');
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** True when the bytes start with the gzip magic number 1f 8b. */
export function isGzip(buf: Uint8Array): boolean {
  return buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b;
}

/**
 * Parse an IDX buffer holding unsigned bytes (type 0x08, as in MNIST).
 *
 * `what` names the input in error messages (a file path or e.g. "MNIST train
 * labels"). Throws if the magic number is wrong, the type is not 0x08, or the
 * byte length is not exactly header + product(dims): a short file is
 * truncated, a long one is corrupt or not what the header says, and either
 * way silently using it would train on garbage.
 */
export function parseIdx(buf: Uint8Array, what: string): IdxArray {
  if (isGzip(buf)) {
    fail(
      'parseIdx',
      `${what} is gzip-compressed; decompress it first (loadIdxFile from src/data/mnist.ts does this automatically in Node)`,
      'gzip-compressed bytes',
      'an uncompressed IDX file',
    );
  }
  if (buf.length < 4) {
    fail(
      'parseIdx',
      `${what} is ${plural(buf.length, 'byte')} long, too short to hold the 4-byte IDX magic number; ` +
        `the file is empty or truncated, download it again`,
      plural(buf.length, 'byte'),
      'at least 4 bytes',
    );
  }
  if (buf[0] !== 0 || buf[1] !== 0) {
    fail(
      'parseIdx',
      `${what} is not an IDX file: it starts with ${hex(buf[0])} ${hex(buf[1])} ` +
        `but IDX files start with 0x00 0x00 (is it compressed, an HTML error page, or a different format?)`,
      `bytes ${hex(buf[0])} ${hex(buf[1])}`,
      '0x00 0x00',
    );
  }
  const type = buf[2];
  const ndims = buf[3];
  if (!(type in IDX_TYPES)) {
    fail(
      'parseIdx',
      `${what} has unknown IDX type code ${hex(type)} in its magic number; ` +
        `valid codes are 0x08, 0x09, 0x0b, 0x0c, 0x0d and 0x0e, so the file is probably corrupt`,
      `type ${hex(type)}`,
      'type 0x08',
    );
  }
  if (type !== UBYTE) {
    fail(
      'parseIdx',
      `${what} holds ${IDX_TYPES[type]} values (type ${hex(type)}), ` +
        `but only unsigned byte (type 0x08) IDX files are supported, which is what MNIST uses`,
      `type ${hex(type)}`,
      'type 0x08',
    );
  }
  if (ndims === 0) {
    fail('parseIdx', `${what} declares 0 dimensions; an IDX array needs at least one, so the file is corrupt`, '0 dimensions', 'at least one dimension');
  }
  const headerBytes = 4 + 4 * ndims;
  if (buf.length < headerBytes) {
    fail(
      'parseIdx',
      `${what} is truncated: its header declares ${plural(ndims, 'dimension')} and so needs ` +
        `${headerBytes} header bytes, but the file is only ${plural(buf.length, 'byte')} long`,
      plural(buf.length, 'byte'),
      `at least ${headerBytes} bytes`,
    );
  }
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const dims = new Array<number>(ndims);
  let count = 1;
  for (let i = 0; i < ndims; i++) {
    dims[i] = view.getUint32(4 + 4 * i, false);
    count *= dims[i];
  }
  // Doubles are exact up to 2^53; a product beyond that (or just beyond any
  // real file) means a corrupt header, and the comparison below would lie.
  if (!Number.isSafeInteger(count)) {
    fail(
      'parseIdx',
      `${what} declares dimensions [${dims.join(', ')}], which is impossibly large; the header is corrupt`,
      `dimensions [${dims.join(', ')}]`,
      'at most 2^53 values',
    );
  }
  const expected = headerBytes + count;
  if (buf.length !== expected) {
    const how = buf.length < expected ? 'truncated' : 'longer than its header says (corrupt or not an IDX file)';
    fail(
      'parseIdx',
      `${what} is ${how}: dimensions [${dims.join(', ')}] need ${expected} bytes ` +
        `(${headerBytes} header + ${count} data) but it has ${buf.length}; download it again`,
      plural(buf.length, 'byte'),
      `${expected} bytes`,
    );
  }
  return { dims, data: buf.subarray(headerBytes) };
}
