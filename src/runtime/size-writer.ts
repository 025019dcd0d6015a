// Measuring a message that is never sent as bytes (same-thread messages, for
// the trace). protobufjs' writer copies every bytes field as it goes, and a
// nested message's length prefix, once longer than a byte, shifts its whole
// content: tracing a 256 KiB piece on its way to the store copied it twice
// only to learn its size. This writer counts bytes fields over a limit instead
// of copying them; what it writes is then only a measure (`size`), never bytes
// anyone reads, while a message with nothing over the limit is written whole.
import { BufferWriter } from 'protobufjs/minimal';
import { varintSize } from '../core/frame-codec';

export class SizeWriter extends BufferWriter {
  /** Bytes counted but not written. */
  private skipped = 0;
  /** `skipped` when each open fork began. */
  private readonly skippedAtFork: number[] = [];

  /** @param keepBytes bytes fields up to this length are written; longer ones counted */
  constructor(private readonly keepBytes: number) {
    super();
  }

  /** The encoded length of what was written (counted bytes included). */
  get size(): number {
    return this.pos + this.skipped;
  }

  /** Whether the bytes written are the whole message (nothing was only counted). */
  get whole(): boolean {
    return this.skipped === 0;
  }

  /** Ready for the next message, whatever the last one left (an encoding that threw leaves forks open). */
  emptied(): this {
    this.pos = 0;
    this.states = null;
    this.skipped = 0;
    this.skippedAtFork.length = 0;
    return this;
  }

  override bytes(value: Uint8Array | string): this {
    if (typeof value === 'string' || value.length <= this.keepBytes) return super.bytes(value) as this;
    this.uint32(value.length);
    this.skipped += value.length;
    return this;
  }

  override fork(): this {
    this.skippedAtFork.push(this.skipped);
    return super.fork() as this;
  }

  override reset(): this {
    if (this.states?.length) this.skipped = this.skippedAtFork.pop() ?? 0;
    else this.skipped = 0;
    return super.reset() as this;
  }

  override ldelim(): this {
    const open = this.states?.length ? this.skippedAtFork.pop() ?? 0 : 0;
    const counted = this.skipped - open;
    if (counted === 0 || !this.states?.length) return super.ldelim() as this;
    // The content is not the message's (some of it was only counted): the
    // prefix's one reserved byte grows to the varint's size, nothing moves.
    const prefixAt = this.states.pop()!;
    const length = this.pos - prefixAt - 1 + counted;
    this.pos += varintSize(length) - 1;
    return this;
  }
}
