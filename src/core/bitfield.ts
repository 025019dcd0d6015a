// Which pieces a peer holds, one bit per piece, most significant bit first in
// each byte (the order of BEP 3's bitfield message). Spare bits at the end of
// the last byte must be zero.
import { EnxameError } from './errors';

export class InvalidBitfieldError extends EnxameError {
  constructor(message: string) {
    super('INVALID_BITFIELD', message);
  }
}

export class Bitfield {
  private readonly bits: Uint8Array;
  private setCount = 0;

  constructor(readonly length: number, bytes?: Uint8Array) {
    if (!Number.isInteger(length) || length < 0) throw new InvalidBitfieldError(`bad bitfield length ${length}`);
    const size = Math.ceil(length / 8);
    if (bytes) {
      if (bytes.length !== size) throw new InvalidBitfieldError(`a bitfield of ${length} pieces has ${size} bytes, not ${bytes.length}`);
      const spare = length % 8;
      if (spare !== 0 && (bytes[size - 1]! & (0xff >> spare)) !== 0) throw new InvalidBitfieldError('spare bits of a bitfield are set');
      this.bits = new Uint8Array(bytes);
      for (const b of this.bits) this.setCount += popcount(b);
    } else {
      this.bits = new Uint8Array(size);
    }
  }

  static full(length: number): Bitfield {
    const f = new Bitfield(length);
    for (let i = 0; i < length; i++) f.set(i);
    return f;
  }

  has(i: number): boolean {
    return i >= 0 && i < this.length && (this.bits[i >> 3]! & (0x80 >> (i & 7))) !== 0;
  }

  set(i: number): void {
    this.check(i);
    if (!this.has(i)) {
      this.bits[i >> 3]! |= 0x80 >> (i & 7);
      this.setCount++;
    }
  }

  clear(i: number): void {
    this.check(i);
    if (this.has(i)) {
      this.bits[i >> 3]! &= ~(0x80 >> (i & 7));
      this.setCount--;
    }
  }

  count(): number {
    return this.setCount;
  }

  isComplete(): boolean {
    return this.setCount === this.length;
  }

  missing(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.length; i++) if (!this.has(i)) out.push(i);
    return out;
  }

  toBytes(): Uint8Array {
    return new Uint8Array(this.bits);
  }

  private check(i: number): void {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) throw new InvalidBitfieldError(`piece ${i} is outside 0..${this.length - 1}`);
  }
}

function popcount(b: number): number {
  let n = 0;
  for (let x = b; x; x &= x - 1) n++;
  return n;
}

/** A bitfield from the wire: `complete` means all pieces; absent bytes mean none. */
export function bitfieldFromBytes(length: number, bytes: Uint8Array | undefined | null, complete: boolean): Bitfield {
  if (complete) return Bitfield.full(length);
  if (!bytes || bytes.length === 0) return new Bitfield(length);
  return new Bitfield(length, bytes);
}
