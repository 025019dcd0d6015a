// Varint-length-delimited framing (protobuf's standard delimited form) over a
// byte stream, with no I/O: bytes in, whole frames out. A length prefix over
// the limit is refused before any of its body is buffered, so a peer cannot
// make us hold more than one maximum frame.
import { EnxameError } from './errors';

export class FrameTooLargeError extends EnxameError {
  constructor(readonly announced: number, readonly limit: number) {
    super('FRAME_TOO_LARGE', `a frame of ${announced} bytes is over the ${limit}-byte limit`);
  }
}

export class MalformedFrameError extends EnxameError {
  constructor(message: string) {
    super('MALFORMED_FRAME', message);
  }
}

export function encodeVarint(n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`varint out of range: ${n}`);
  const out = new Uint8Array(varintSize(n));
  writeVarint(out, 0, n);
  return out;
}

/** Bytes of `n` as a varint. */
export function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

/** Writes `n` as a varint into `out` at `at`; returns where the next byte goes. */
export function writeVarint(out: Uint8Array, at: number, n: number): number {
  while (n >= 0x80) {
    out[at++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  out[at++] = n;
  return at;
}

/** Bytes on the wire of a frame of this many bytes, with its length prefix. */
export function delimitedSize(frameLength: number): number {
  return varintSize(frameLength) + frameLength;
}

/** The body of one delimited frame: a view past its length prefix. */
export function bodyOf(delimited: Uint8Array): Uint8Array {
  let i = 0;
  while (i < delimited.length && delimited[i]! >= 0x80) i++;
  return delimited.subarray(i + 1);
}

/** The body with its length prefix, in one new buffer. */
export function delimit(body: Uint8Array): Uint8Array {
  const prefix = encodeVarint(body.length);
  const out = Buffer.allocUnsafe(prefix.length + body.length);
  out.set(prefix, 0);
  out.set(body, prefix.length);
  return out;
}

export class FrameDecoder {
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  /** Body length of the frame being read, once its prefix is complete. */
  private expected = -1;

  constructor(readonly maxFrameBytes: number) {}

  get bufferedBytes(): number {
    return this.buffered;
  }

  /**
   * The frames `chunk` completes. A `transient` chunk is reused by its owner
   * after this call: what is left of it is copied, and the frames returned
   * may be views into it, valid only until then.
   */
  push(chunk: Uint8Array, transient = false): Uint8Array[] {
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    const frames: Uint8Array[] = [];
    for (;;) {
      if (this.expected < 0) {
        const prefix = this.readPrefix();
        if (prefix === undefined) break;
        this.expected = prefix;
      }
      if (this.buffered < this.expected) break;
      frames.push(this.take(this.expected));
      this.expected = -1;
    }
    const last = this.chunks.length - 1;
    if (transient && last >= 0 && this.chunks[last]!.buffer === chunk.buffer) this.chunks[last] = Uint8Array.from(this.chunks[last]!);
    return frames;
  }

  /** Consumes a complete varint prefix, or returns undefined to wait for more. */
  private readPrefix(): number | undefined {
    let value = 0;
    let shift = 0;
    let i = 0;
    for (const c of this.chunks) {
      for (let j = 0; j < c.length; j++, i++) {
        const b = c[j]!;
        if (i >= 5) throw new MalformedFrameError('a frame length prefix is longer than 5 bytes');
        value += (b & 0x7f) * 2 ** shift;
        shift += 7;
        if (b < 0x80) {
          if (value > 0xffffffff) throw new MalformedFrameError('a frame length does not fit in 32 bits');
          if (value > this.maxFrameBytes) throw new FrameTooLargeError(value, this.maxFrameBytes);
          this.take(i + 1);
          return value;
        }
      }
    }
    if (i >= 5) throw new MalformedFrameError('a frame length prefix is longer than 5 bytes');
    return undefined;
  }

  /** Removes n bytes from the front; a view when they lie in one chunk. */
  private take(n: number): Uint8Array {
    this.buffered -= n;
    const first = this.chunks[0];
    if (n === 0) return new Uint8Array(0);
    if (first && first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      return out;
    }
    const out = new Uint8Array(n);
    let at = 0;
    while (at < n) {
      const c = this.chunks[0]!;
      const want = Math.min(c.length, n - at);
      out.set(c.subarray(0, want), at);
      at += want;
      if (want === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(want);
    }
    return out;
  }
}
