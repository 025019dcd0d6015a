// Recording what happens, for `--trace` and `p2p inspect`. Every host has one
// Tracer; while it is off, recording costs one boolean test at each call site.
// While on, records are encoded at once (delimited p2p.v1.TraceRecord) into a
// batch that goes to the main thread, which writes the trace. A connection
// traces a record per block; those are written from a template (the fields
// that never change on one connection, encoded once) straight into the batch.
import { Writer } from 'protobufjs/minimal';
import { p2p } from '../gen/proto';
import { varintSize, writeVarint } from '../core/frame-codec';
import type { SizeWriter } from './size-writer';

/** zlib's CRC-32, loaded when a trace first needs it: every thread runs a tracer, few ever trace. */
let crc32: ((data: Uint8Array) => number) | undefined;
function crc32Of(data: Uint8Array): number {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  crc32 ??= (require('node:zlib') as typeof import('node:zlib')).crc32;
  return crc32(data);
}

export interface WireTrace {
  transport: 'udp' | 'tcp';
  direction: 'in' | 'out';
  local: string;
  remote: string;
  messageType: 'p2p.v1.TrackerPacket' | 'p2p.v1.PeerFrame';
  /** The message's bytes (block data left out by the caller, see payloadOf). */
  message: Uint8Array;
  wireBytes: number;
  /** Block data that was left out of `message`: recorded as its length and CRC-32. */
  elided?: Uint8Array;
  remotePeerId?: Uint8Array;
  actor?: string;
}

/** The fields of a wire record that stay the same on one connection in one direction, encoded once. */
export interface WireTemplate {
  /** Encoded WireEvent fields: transport, direction, endpoints, message type, peer id, actor. */
  readonly fields: Uint8Array;
}

/** What actors see of the tracer. */
export interface TraceRecorder {
  /** True while tracing: check it before building a record. */
  readonly on: boolean;
  /** Whether block data is recorded whole. */
  readonly payloads: boolean;
  wire(event: WireTrace): void;
  /** The same record as `wire`, from a template: for the many records of one connection. */
  wireFrom(template: WireTemplate, message: Uint8Array, wireBytes: number, elided?: Uint8Array): void;
}

/** Encodes what `wireFrom` does not: for one connection and direction, once. */
export function wireTemplate(e: Omit<WireTrace, 'message' | 'wireBytes' | 'elided'>): WireTemplate {
  return { fields: p2p.v1.WireEvent.encode(wireEventHead(e)).finish() };
}

function wireEventHead(e: Omit<WireTrace, 'message' | 'wireBytes' | 'elided'>): p2p.v1.WireEvent.$Properties {
  return {
    transport: e.transport === 'udp' ? p2p.v1.WireEvent.Transport.UDP : p2p.v1.WireEvent.Transport.TCP,
    direction: e.direction === 'in' ? p2p.v1.WireEvent.Direction.IN : p2p.v1.WireEvent.Direction.OUT,
    local: e.local, remote: e.remote, messageType: e.messageType, remotePeerId: e.remotePeerId, actor: e.actor,
  };
}

/** The writer with nothing in it (and no fork left open by an encoding that threw), to use again. */
export function emptied(w: Writer): Writer {
  do w.reset(); while (w.len > 0);
  return w;
}

// Tags (field number << 3 | wire type) of what wireFrom writes by hand.
const RECORD_TIME = (1 << 3) | 1;
const RECORD_WIRE = (10 << 3) | 2;
const WIRE_MESSAGE = (6 << 3) | 2;
const WIRE_BYTES = (7 << 3) | 0;
const WIRE_PAYLOAD_BYTES = (8 << 3) | 0;
const WIRE_PAYLOAD_CRC32 = (12 << 3) | 5;

/** Batches go to the main thread at this size, or after FLUSH_MS. */
const BATCH_BYTES = 64 * 1024;
const FLUSH_MS = 100;
/** Actor message bodies up to this size are kept in the trace. */
export const MAX_TRACED_BODY_BYTES = 512;

export class Tracer implements TraceRecorder {
  on = false;
  payloads = false;
  private batch = Buffer.allocUnsafe(BATCH_BYTES);
  private used = 0;
  private timer?: NodeJS.Timeout;
  /** The record's host field, encoded once. */
  private readonly hostField: Uint8Array;

  constructor(private readonly hostName: string, private readonly sink: (records: Uint8Array) => void) {
    this.hostField = p2p.v1.TraceRecord.encode({ host: hostName }).finish();
  }

  start(payloads: boolean): void {
    this.on = true;
    this.payloads = payloads;
  }

  /** Stops recording; returns what was not flushed yet. */
  stop(): Uint8Array {
    this.on = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    return this.take();
  }

  record(event: Omit<p2p.v1.TraceRecord.$Properties, 'timeMs' | 'host'>): void {
    if (!this.on) return;
    const w = Writer.create().fork();
    p2p.v1.TraceRecord.encode({ timeMs: Date.now(), host: this.hostName, ...event }, w);
    const bytes = w.ldelim().finish();
    const at = this.reserve(bytes.length);
    this.batch.set(bytes, at);
    this.written(bytes.length);
  }

  wire(e: WireTrace): void {
    this.record({
      wire: {
        ...wireEventHead(e), message: e.message, wireBytes: e.wireBytes,
        ...(e.elided ? { payloadBytes: e.elided.length, payloadCrc32: crc32Of(e.elided) } : {}),
      },
    });
  }

  wireFrom(template: WireTemplate, message: Uint8Array, wireBytes: number, elided?: Uint8Array): void {
    if (!this.on) return;
    // WireEvent: the template's fields, then message, wire_bytes and the left-out payload's size and CRC-32.
    const wireLength = template.fields.length
      + (message.length ? 1 + varintSize(message.length) + message.length : 0)
      + (wireBytes ? 1 + varintSize(wireBytes) : 0)
      + (elided ? 1 + varintSize(elided.length) + 1 + 4 : 0);
    const recordLength = 1 + 8 + this.hostField.length + 1 + varintSize(wireLength) + wireLength;
    const total = varintSize(recordLength) + recordLength;
    const start = this.reserve(total); // may start a new batch: take it after
    const out = this.batch;
    let at = writeVarint(out, start, recordLength);
    out[at++] = RECORD_TIME;
    at = out.writeDoubleLE(Date.now(), at);
    out.set(this.hostField, at);
    at += this.hostField.length;
    out[at++] = RECORD_WIRE;
    at = writeVarint(out, at, wireLength);
    out.set(template.fields, at);
    at += template.fields.length;
    if (message.length) {
      out[at++] = WIRE_MESSAGE;
      at = writeVarint(out, at, message.length);
      out.set(message, at);
      at += message.length;
    }
    if (wireBytes) {
      out[at++] = WIRE_BYTES;
      at = writeVarint(out, at, wireBytes);
    }
    if (elided) {
      out[at++] = WIRE_PAYLOAD_BYTES;
      at = writeVarint(out, at, elided.length);
      out[at++] = WIRE_PAYLOAD_CRC32;
      out.writeUInt32LE(crc32Of(elided), at);
    }
    this.written(total);
  }

  actor(from: string, to: string, type: string, bodyCase: string, body: Uint8Array, reply: boolean): void {
    this.record({
      actor: { from, to, type, bodyCase, bytes: body.length, reply, ...(body.length <= MAX_TRACED_BODY_BYTES ? { body } : {}) },
    });
  }

  /**
   * The same record for a message that never became bytes (same thread),
   * measured by a SizeWriter: only a body small enough to be kept is written
   * out (a 256 KiB piece is counted, never copied, for this).
   */
  localActor(from: string, to: string, type: string, bodyCase: string, body: SizeWriter, reply: boolean): void {
    const keep = body.whole && body.size <= MAX_TRACED_BODY_BYTES;
    this.record({ actor: { from, to, type, bodyCase, bytes: body.size, reply, ...(keep ? { body: body.finish() } : {}) } });
  }

  spawned(id: string, behavior: string): void {
    this.record({ spawned: { id, behavior } });
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const bytes = this.take();
    if (bytes.length > 0) this.sink(bytes);
  }

  /** Where a record of `size` bytes goes in the batch (flushed first when it does not fit). */
  private reserve(size: number): number {
    if (this.used + size > this.batch.length) {
      this.flush();
      if (size > this.batch.length) this.batch = Buffer.allocUnsafe(size);
    }
    return this.used;
  }

  private written(size: number): void {
    this.used += size;
    if (this.used >= BATCH_BYTES) this.flush();
    else this.timer ??= setTimeout(() => { this.timer = undefined; this.flush(); }, FLUSH_MS);
  }

  /** The batch so far; the next records go into a new buffer (this one is handed over). */
  private take(): Uint8Array {
    if (this.used === 0) return new Uint8Array(0);
    const out = this.batch.subarray(0, this.used);
    this.batch = Buffer.allocUnsafe(BATCH_BYTES);
    this.used = 0;
    return out;
  }
}
