// Recording what happens, for `--trace` and `p2p inspect`. Every host has one
// Tracer; while it is off, recording costs one boolean test at each call site.
// While on, records are encoded at once (delimited p2p.v1.TraceRecord) and
// sent in batches to the main thread, which writes the trace.
import { createHash } from 'node:crypto';
import { Writer } from 'protobufjs/minimal';
import { p2p } from '../gen/proto';

export interface WireTrace {
  transport: 'udp' | 'tcp';
  direction: 'in' | 'out';
  local: string;
  remote: string;
  messageType: 'p2p.v1.TrackerPacket' | 'p2p.v1.PeerFrame';
  /** The message's bytes (block data left out by the caller, see payloadOf). */
  message: Uint8Array;
  wireBytes: number;
  /** Block data that was left out of `message`: recorded as length and short hash. */
  elided?: Uint8Array;
  remotePeerId?: Uint8Array;
  actor?: string;
}

/** What actors see of the tracer. */
export interface TraceRecorder {
  /** True while tracing: check it before building a record. */
  readonly on: boolean;
  /** Whether block data is recorded whole. */
  readonly payloads: boolean;
  wire(event: WireTrace): void;
}

/** Batches go to the main thread at this size, or after FLUSH_MS. */
const BATCH_BYTES = 64 * 1024;
const FLUSH_MS = 100;
/** Actor message bodies up to this size are kept in the trace. */
const MAX_BODY_BYTES = 512;

export class Tracer implements TraceRecorder {
  on = false;
  payloads = false;
  private chunks: Uint8Array[] = [];
  private size = 0;
  private timer?: NodeJS.Timeout;

  constructor(private readonly hostName: string, private readonly sink: (records: Uint8Array) => void) {}

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
    this.chunks.push(bytes);
    this.size += bytes.length;
    if (this.size >= BATCH_BYTES) this.flush();
    else this.timer ??= setTimeout(() => { this.timer = undefined; this.flush(); }, FLUSH_MS);
  }

  wire(e: WireTrace): void {
    this.record({
      wire: {
        transport: e.transport === 'udp' ? p2p.v1.WireEvent.Transport.UDP : p2p.v1.WireEvent.Transport.TCP,
        direction: e.direction === 'in' ? p2p.v1.WireEvent.Direction.IN : p2p.v1.WireEvent.Direction.OUT,
        local: e.local, remote: e.remote, messageType: e.messageType, message: e.message, wireBytes: e.wireBytes,
        ...(e.elided ? { payloadBytes: e.elided.length, payloadSha256Prefix: createHash('sha256').update(e.elided).digest().subarray(0, 8) } : {}),
        remotePeerId: e.remotePeerId, actor: e.actor,
      },
    });
  }

  actor(from: string, to: string, type: string, bodyCase: string, body: Uint8Array, reply: boolean): void {
    this.record({
      actor: { from, to, type, bodyCase, bytes: body.length, reply, ...(body.length <= MAX_BODY_BYTES ? { body } : {}) },
    });
  }

  /**
   * The same record for a message that never became bytes (same thread): its
   * encoded size is the writer's length, and only a body small enough to be
   * kept is finished into bytes (a 256 KiB piece is never copied for this).
   */
  localActor(from: string, to: string, type: string, bodyCase: string, body: Writer, reply: boolean): void {
    this.record({
      actor: { from, to, type, bodyCase, bytes: body.len, reply, ...(body.len <= MAX_BODY_BYTES ? { body: body.finish() } : {}) },
    });
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

  private take(): Uint8Array {
    const out = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    this.chunks = [];
    this.size = 0;
    return out ?? new Uint8Array(0);
  }
}
