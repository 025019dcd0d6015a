// A host runs many actors on one thread (a worker thread, or the main thread
// as host 0). It owns their mailboxes, routes envelopes to local actors or to
// other hosts over MessagePorts, keeps pending asks, and applies supervision
// decisions. Everything that crosses a thread is protobuf bytes; a message to
// an actor on the same thread is handed over as an object, rebuilt by its
// type's fromObject (nested messages and arrays anew, bytes not copied), so a
// sender gives up the byte arrays it sends.
import type { MessagePort } from 'node:worker_threads';
import { Writer } from 'protobufjs/minimal';
import {
  decodeHostMessage, encodeDelivery, encodeSpawn, encodeStop, encodeTraceBatch, ownsBuffer,
  type DecodedEnvelope, type EnvelopeHeader,
} from './envelope';
import { SizeWriter } from './size-writer';
import { MAX_TRACED_BODY_BYTES, Tracer } from './tracer';
import { decide } from './supervision';
import { TypeRegistry, typeName } from './type-registry';
import {
  AskFailedError, AskTimeoutError, DEFAULT_SUPERVISION,
  type Actor, type ActorContext, type ActorRef, type Behavior, type Cancellable, type Delivery,
  type MessageClass, type SpawnOptions,
} from './types';

/** Messages at least this big move between threads in a transfer list, each on its own. */
const TRANSFER_MIN_BYTES = 4096;
/** Smaller messages are packed into runs of at most this many bytes, one buffer each. */
const RUN_MAX_BYTES = 64 * 1024;
const NO_BYTES = new Uint8Array(0);
/** A mailbox handles at most this many messages before yielding to I/O. */
const BATCH_PER_TURN = 64;

export interface HostStats {
  host: string;
  index: number;
  actors: number;
  delivered: number;
  deadLetters: number;
  crashes: number;
  restarts: number;
  stoppedBySupervisor: number;
  malformed: number;
  transferred: number;
  transferredBytes: number;
  copiedBytes: number;
}

interface PendingAsk {
  replyType: MessageClass<unknown>;
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
  target: ActorRef;
}

type CellState = 'starting' | 'running' | 'restarting' | 'stopped';

/**
 * What one link sends at the next flush. A posted batch is one of: a
 * Uint8Array (one large host message, moved), an ArrayBuffer (a run of small
 * host messages, each after its 32-bit length), or an array of those, in order.
 */
interface Outbox {
  chunks: (Uint8Array | ArrayBuffer)[];
  transfer: ArrayBuffer[];
  small: Uint8Array[];
  smallBytes: number;
  scheduled: boolean;
}

export class HostRuntime {
  private readonly cells = new Map<string, ActorCell>();
  private readonly links = new Map<number, MessagePort>();
  private readonly outboxes = new Map<MessagePort, Outbox>();
  private readonly asks = new Map<number, PendingAsk>();
  private readonly behaviors = new Map<string, Behavior<unknown, unknown>>();
  private nextActor = 0;
  private nextAsk = 0;
  private readonly counters = {
    delivered: 0, deadLetters: 0, crashes: 0, restarts: 0, stoppedBySupervisor: 0, malformed: 0,
    transferred: 0, transferredBytes: 0, copiedBytes: 0,
  };
  /** Records this host's messages while a trace is on. */
  readonly tracer: Tracer;
  /** On the main host: where every host's trace records end up. */
  traceSink?: (records: Uint8Array) => void;
  /** The pseudo-actor that system code (tests, the CLI) speaks as. */
  readonly systemRef: ActorRef;

  constructor(
    readonly index: number,
    readonly hostNames: readonly string[],
    readonly registry: TypeRegistry,
    behaviors: readonly Behavior<any, any>[],
    readonly log: (line: string) => void = (line) => process.stderr.write(line + '\n'),
  ) {
    for (const b of behaviors) this.behaviors.set(b.name, b as Behavior<unknown, unknown>);
    this.systemRef = { host: index, id: `${index}.system`, inbox: '' };
    this.tracer = new Tracer(this.name, (records) => this.sendTrace(records));
  }

  get name(): string {
    return this.hostNames[this.index] ?? `host${this.index}`;
  }

  connect(host: number, port: MessagePort): void {
    this.links.set(host, port);
    port.on('message', (data: unknown) => {
      if (Array.isArray(data)) for (const chunk of data) this.receiveChunk(chunk);
      else this.receiveChunk(data);
    });
  }

  private receiveChunk(chunk: unknown): void {
    if (chunk instanceof Uint8Array) {
      this.receiveHostMessage(chunk);
    } else if (chunk instanceof ArrayBuffer) {
      const view = new DataView(chunk);
      for (let at = 0; at + 4 <= chunk.byteLength;) {
        const length = view.getUint32(at, true);
        at += 4;
        if (at + length > chunk.byteLength) { this.counters.malformed++; return; }
        this.receiveHostMessage(new Uint8Array(chunk, at, length));
        at += length;
      }
    } else {
      this.counters.malformed++;
    }
  }

  /** Entry point for bytes arriving from another host. */
  receiveHostMessage(bytes: Uint8Array): void {
    let message;
    try {
      message = decodeHostMessage(bytes);
    } catch (err) {
      this.counters.malformed++;
      this.log(`[runtime] ${this.name}: dropped a malformed host message: ${(err as Error).message}`);
      return;
    }
    switch (message.kind) {
      case 'deliver': this.deliverLocal(message.envelope); break;
      case 'spawn': this.createCell(message.ref, message.behavior, parseProps(message.propsJson), message.parent, undefined); break;
      case 'stop': this.cells.get(message.ref.id)?.stop(); break;
      case 'trace': this.traceSink?.(message.records); break;
    }
  }

  // ---- tracing ----

  /** Starts recording here; names every actor already running so the trace can say who is who. */
  startTrace(payloads: boolean): void {
    this.tracer.start(payloads);
    for (const cell of this.cells.values()) this.tracer.spawned(cell.ref.id, cell.behaviorName);
  }

  /** Stops recording here; returns the records not yet sent on. */
  stopTrace(): Uint8Array {
    return this.tracer.stop();
  }

  private sendTrace(records: Uint8Array): void {
    if (this.index === 0) {
      this.traceSink?.(records);
      return;
    }
    const link = this.links.get(0);
    if (link) this.post(link, encodeTraceBatch(records));
  }

  /** Measures same-thread messages for the trace, a piece's bytes counted, not copied. */
  private readonly traceWriter = new SizeWriter(MAX_TRACED_BODY_BYTES);

  private traceDelivery(envelope: DecodedEnvelope): void {
    const from = envelope.from?.id ?? 'system';
    const type = this.registry.get<unknown>(envelope.type);
    if (envelope.message) {
      // Never encoded (same thread): the case from the object, the size from a writer.
      const bodyCase = type ? bodyCaseOf(type, envelope.message) : '';
      const writer = this.traceWriter.emptied();
      if (type) type.encode(envelope.message, writer);
      this.tracer.localActor(from, envelope.to.id, envelope.type, bodyCase, writer, !!envelope.isReply);
      return;
    }
    let bodyCase = '';
    if (type && envelope.body.length > 0) {
      try {
        bodyCase = String((type.decode(envelope.body) as { body?: string }).body ?? '');
      } catch {
        bodyCase = '(undecodable)';
      }
    }
    this.tracer.actor(from, envelope.to.id, envelope.type, bodyCase, envelope.body, !!envelope.isReply);
  }

  // ---- sending ----

  send<T>(header: EnvelopeHeader, bodyType: MessageClass<T>, body: T): void {
    if (header.to.host === this.index) {
      // No encoding on the same thread: a 256 KiB piece going from a
      // connection to the store is not copied, and small messages skip the
      // encoder and decoder both.
      this.deliverLocal({ ...header, body: NO_BYTES, message: body as object });
      return;
    }
    const bytes = encodeDelivery(header, bodyType, body);
    const link = this.links.get(header.to.host);
    if (!link) {
      this.counters.deadLetters++;
      this.log(`[runtime] ${this.name}: no route to host ${header.to.host} for ${header.type}`);
      return;
    }
    this.post(link, bytes);
  }

  /**
   * Queues bytes for another host; what is queued goes in one postMessage when
   * this turn of the event loop ends. A postMessage costs far more than the
   * bytes it carries (and cloning a small Buffer clones its whole 8 KiB pool),
   * so small messages are packed into a run of their own and big ones moved.
   * With `now` (spawns and stops), the queue goes at once: a spawn then
   * reaches its host before anything this thread causes afterwards elsewhere.
   */
  post(link: MessagePort, bytes: Uint8Array, now = false): void {
    let box = this.outboxes.get(link);
    if (!box) {
      box = { chunks: [], transfer: [], small: [], smallBytes: 0, scheduled: false };
      this.outboxes.set(link, box);
    }
    if (bytes.byteLength >= TRANSFER_MIN_BYTES && ownsBuffer(bytes)) {
      this.counters.transferred++;
      this.counters.transferredBytes += bytes.byteLength;
      closeRun(box);
      box.chunks.push(bytes);
      box.transfer.push(bytes.buffer as ArrayBuffer);
    } else {
      this.counters.copiedBytes += bytes.byteLength;
      box.small.push(bytes);
      box.smallBytes += 4 + bytes.byteLength;
      if (box.smallBytes >= RUN_MAX_BYTES) closeRun(box);
    }
    if (now) {
      this.flush(link, box);
    } else if (!box.scheduled) {
      box.scheduled = true;
      setImmediate(() => { box.scheduled = false; this.flush(link, box); });
    }
  }

  private flush(link: MessagePort, box: Outbox): void {
    closeRun(box);
    if (box.chunks.length === 0) return;
    const batch = box.chunks.length === 1 ? box.chunks[0] : box.chunks;
    try {
      link.postMessage(batch, box.transfer);
    } catch (err) {
      this.log(`[runtime] ${this.name}: could not post ${box.chunks.length} chunk(s): ${(err as Error).message}`);
    }
    box.chunks = [];
    box.transfer = [];
  }

  tell<T>(from: ActorRef | undefined, to: ActorRef<T>, message: T): void {
    const bodyType = this.typeFor<T>(to.inbox);
    this.send({ to, from, type: to.inbox, sentAt: Date.now() }, bodyType, message);
  }

  ask<T, R>(from: ActorRef | undefined, to: ActorRef<T>, message: T, replyType: MessageClass<R>, timeoutMs: number): Promise<R> {
    const askId = this.nextAskId();
    const bodyType = this.typeFor<T>(to.inbox);
    const replyTo = from ?? this.systemRef;
    return new Promise<R>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.asks.delete(askId);
        reject(new AskTimeoutError(to, to.inbox, timeoutMs));
      }, timeoutMs);
      this.asks.set(askId, { replyType: replyType as MessageClass<unknown>, resolve: resolve as (v: unknown) => void, reject, timer, target: to });
      this.send({ to, from: replyTo, type: to.inbox, askId, sentAt: Date.now() }, bodyType, message);
    });
  }

  private nextAskId(): number {
    this.nextAsk = (this.nextAsk % 0xfffffffe) + 1;
    return this.nextAsk;
  }

  typeFor<T>(name: string): MessageClass<T> {
    const type = this.registry.get<T>(name);
    if (!type) throw new Error(`unknown message type "${name}" (not in proto/)`);
    return type;
  }

  // ---- receiving ----

  private deliverLocal(envelope: DecodedEnvelope): void {
    if (this.tracer.on) this.traceDelivery(envelope);
    if (envelope.isReply) {
      this.settleAsk(envelope);
      return;
    }
    const cell = this.cells.get(envelope.to.id);
    if (!cell || cell.state === 'stopped') {
      this.deadLetter(envelope, 'no such actor');
      return;
    }
    cell.enqueue(envelope);
  }

  private settleAsk(envelope: DecodedEnvelope): void {
    const pending = this.asks.get(envelope.askId ?? 0);
    if (!pending) return; // the asker gave up already
    this.asks.delete(envelope.askId!);
    clearTimeout(pending.timer);
    if (envelope.error) {
      pending.reject(new AskFailedError(pending.target, envelope.error));
      return;
    }
    try {
      pending.resolve(envelope.message ? pending.replyType.fromObject(envelope.message as Record<string, unknown>) : pending.replyType.decode(envelope.body));
    } catch (err) {
      pending.reject(new AskFailedError(pending.target, `undecodable reply: ${(err as Error).message}`));
    }
  }

  deadLetter(envelope: DecodedEnvelope, reason: string): void {
    this.counters.deadLetters++;
    if (envelope.askId && envelope.from) this.replyError(envelope, reason);
  }

  replyError(envelope: DecodedEnvelope, reason: string): void {
    if (!envelope.from || !envelope.askId) return;
    this.send({ to: envelope.from, type: '', askId: envelope.askId, isReply: true, error: reason || 'failed', sentAt: Date.now() },
      EMPTY_TYPE, {});
  }

  // ---- lifecycle ----

  spawn<T, P>(behavior: string, props: P, options: SpawnOptions & { parent?: ActorRef } = {}): ActorRef<T> {
    const hostIndex = options.host === undefined ? this.index : this.hostIndex(options.host);
    const inbox = this.behaviors.get(behavior)?.inbox;
    if (!inbox) throw new Error(`unknown behaviour "${behavior}"`);
    const ref: ActorRef<T> = { host: hostIndex, id: `${this.index}.${++this.nextActor}`, inbox: typeName(inbox) };
    const propsJson = JSON.stringify(props ?? {});
    if (hostIndex === this.index) {
      this.createCell(ref, behavior, parseProps(propsJson), options.parent, options.resource);
    } else {
      if (options.resource !== undefined) throw new Error('a host-local resource can only go to an actor on the same host');
      const link = this.links.get(hostIndex);
      if (!link) throw new Error(`no route to host ${hostIndex}`);
      this.post(link, encodeSpawn(ref, behavior, propsJson, options.parent), true);
    }
    return ref;
  }

  hostIndex(name: string): number {
    const i = this.hostNames.indexOf(name);
    if (i < 0) throw new Error(`unknown host "${name}" (hosts: ${this.hostNames.join(', ')})`);
    return i;
  }

  stopActor(ref: ActorRef): void {
    if (ref.host === this.index) {
      this.cells.get(ref.id)?.stop();
      return;
    }
    const link = this.links.get(ref.host);
    if (link) this.post(link, encodeStop(ref), true);
  }

  private createCell(ref: ActorRef, behaviorName: string, props: unknown, parent: ActorRef | undefined, resource: unknown): void {
    const behavior = this.behaviors.get(behaviorName);
    if (!behavior) {
      this.log(`[runtime] ${this.name}: cannot spawn unknown behaviour "${behaviorName}"`);
      return;
    }
    const cell = new ActorCell(this, ref, behavior, props, parent, resource);
    this.cells.set(ref.id, cell);
    if (this.tracer.on) this.tracer.spawned(ref.id, behaviorName);
    cell.start();
  }

  removeCell(id: string): void {
    this.cells.delete(id);
  }

  count(kind: 'delivered' | 'crashes' | 'restarts' | 'stoppedBySupervisor'): void {
    this.counters[kind]++;
  }

  stats(): HostStats {
    return { host: this.name, index: this.index, actors: this.cells.size, ...this.counters };
  }

  /** Stops every actor here (running their stopped hooks) and closes links. */
  async shutdown(): Promise<void> {
    await Promise.all([...this.cells.values()].map((cell) => cell.stop()));
    for (const pending of this.asks.values()) {
      clearTimeout(pending.timer);
      pending.reject(new AskFailedError(pending.target, 'the system is shutting down'));
    }
    this.asks.clear();
    for (const [link, box] of this.outboxes) this.flush(link, box);
    for (const link of this.links.values()) link.close();
    this.links.clear();
  }
}

/** Packs the queued small messages into one buffer of their own. */
function closeRun(box: Outbox): void {
  if (box.small.length === 0) return;
  const run = new ArrayBuffer(box.smallBytes);
  const view = new DataView(run);
  const bytes = new Uint8Array(run);
  let at = 0;
  for (const m of box.small) {
    view.setUint32(at, m.byteLength, true);
    bytes.set(m, at + 4);
    at += 4 + m.byteLength;
  }
  box.chunks.push(run);
  box.transfer.push(run);
  box.small = [];
  box.smallBytes = 0;
}

/** An empty message used for error replies (no body). */
const EMPTY_TYPE: MessageClass<object> = {
  encode: (_m, w) => w ?? Writer.create(),
  decode: () => ({}),
  fromObject: () => ({}),
  getTypeUrl: () => '/',
};

function parseProps(json: string): unknown {
  try {
    return JSON.parse(json);
  } catch {
    return {};
  }
}

/** One actor: its mailbox, its current instance, and its supervision state. */
class ActorCell {
  state: CellState = 'starting';
  private readonly queue: DecodedEnvelope[] = [];
  private instance?: Actor<unknown>;
  private draining = false;
  private readonly restartTimes: number[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly ctx: ActorContext<unknown>;
  private stopping?: Promise<void>;

  constructor(
    private readonly host: HostRuntime,
    readonly ref: ActorRef,
    private readonly behavior: Behavior<unknown, unknown>,
    private readonly props: unknown,
    parent: ActorRef | undefined,
    resource: unknown,
  ) {
    this.ctx = this.makeContext(parent, resource);
  }

  private get label(): string {
    return `${this.behavior.name}#${this.ref.id}`;
  }

  get behaviorName(): string {
    return this.behavior.name;
  }

  private makeContext(parent: ActorRef | undefined, resource: unknown): ActorContext<unknown> {
    const host = this.host;
    const self = this.ref;
    const timers = this.timers;
    return {
      self, parent, resource, hostName: host.name, tracer: host.tracer,
      tell: (to, message) => host.tell(self, to, message),
      ask: (to, message, reply, timeoutMs) => host.ask(self, to, message, reply, timeoutMs),
      spawn: (behavior, props, options = {}) => host.spawn(behavior, props, { ...options, parent: self }),
      schedule: (delayMs, message) => {
        const t = setTimeout(() => { timers.delete(t); host.tell(self, self, message); }, delayMs);
        timers.add(t);
        return cancelOf(timers, t);
      },
      every: (intervalMs, message) => {
        const t = setInterval(() => host.tell(self, self, message), intervalMs);
        timers.add(t);
        return cancelOf(timers, t);
      },
      stop: (ref) => {
        if (!ref || ref.id === self.id) void this.stop();
        else host.stopActor(ref);
      },
      log: (text) => host.log(`[${this.label}] ${text}`),
    };
  }

  start(): void {
    this.state = 'starting';
    let result: void | Promise<void>;
    try {
      this.instance = this.behavior.create(this.ctx, this.props);
      result = this.instance.started?.();
    } catch (err) {
      this.crash(err, undefined);
      return;
    }
    if (isPromise(result)) {
      result.then(() => this.running(), (err) => this.crash(err, undefined));
    } else {
      this.running();
    }
  }

  private running(): void {
    if (this.state !== 'starting') return;
    this.state = 'running';
    this.kick();
  }

  enqueue(envelope: DecodedEnvelope): void {
    this.queue.push(envelope);
    this.kick();
  }

  private kick(): void {
    if (this.draining || this.state !== 'running' || this.queue.length === 0) return;
    this.draining = true;
    queueMicrotask(() => void this.drain());
  }

  private async drain(): Promise<void> {
    let handled = 0;
    while (this.state === 'running' && this.queue.length > 0) {
      if (handled++ >= BATCH_PER_TURN) {
        setImmediate(() => { this.draining = false; this.kick(); });
        return;
      }
      const envelope = this.queue.shift()!;
      const instance = this.instance!;
      try {
        const result = this.handle(instance, envelope);
        if (isPromise(result)) await result;
      } catch (err) {
        if (this.instance === instance) this.crash(err, envelope);
        break;
      }
    }
    this.draining = false;
    this.kick();
  }

  private handle(instance: Actor<unknown>, envelope: DecodedEnvelope): void | Promise<void> {
    if (envelope.type !== this.ref.inbox) {
      this.host.log(`[runtime] ${this.label}: dropped a ${envelope.type || 'untyped'} message (accepts ${this.ref.inbox})`);
      this.host.deadLetter(envelope, `wrong message type ${envelope.type}`);
      return;
    }
    let message: unknown;
    try {
      const type = this.host.typeFor(this.ref.inbox);
      message = envelope.message ? type.fromObject(envelope.message as Record<string, unknown>) : type.decode(envelope.body);
    } catch (err) {
      this.host.deadLetter(envelope, `undecodable message: ${(err as Error).message}`);
      return;
    }
    this.host.count('delivered');
    return instance.receive(message, this.deliveryOf(envelope));
  }

  private deliveryOf(envelope: DecodedEnvelope): Delivery {
    const host = this.host;
    let answered = false;
    const self = this.ref;
    return {
      type: envelope.type,
      sender: envelope.from,
      isAsk: !!envelope.askId,
      reply(type, message) {
        if (answered || !envelope.askId || !envelope.from) return;
        answered = true;
        host.send({ to: envelope.from, from: self, type: typeName(type as MessageClass<unknown>), askId: envelope.askId, isReply: true, sentAt: Date.now() }, type, message);
      },
      fail(reason) {
        if (answered) return;
        answered = true;
        host.replyError(envelope, reason);
      },
    };
  }

  private crash(err: unknown, envelope: DecodedEnvelope | undefined): void {
    if (this.state === 'stopped') return;
    const error = err instanceof Error ? err : new Error(String(err));
    this.host.count('crashes');
    if (envelope) this.host.replyError(envelope, `${this.behavior.name} crashed: ${error.message}`);
    this.clearTimers();
    const old = this.instance;
    this.instance = undefined;
    try { void Promise.resolve(old?.stopped?.()).catch(() => undefined); } catch { /* a broken instance may throw here too */ }
    const now = Date.now();
    const directive = decide(this.behavior.supervision ?? DEFAULT_SUPERVISION, this.restartTimes, now);
    if (directive.kind === 'stop') {
      this.host.log(`[runtime] ${this.label} crashed: ${error.stack ?? error.message}\n[runtime] ${this.label} stopped by its supervisor (${directive.reason})`);
      this.host.count('stoppedBySupervisor');
      void this.stop();
      return;
    }
    this.restartTimes.push(now);
    this.host.log(`[runtime] ${this.label} crashed: ${error.message}; restarting in ${directive.afterMs} ms (restart ${this.restartTimes.length})`);
    this.state = 'restarting';
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (this.state !== 'restarting') return;
      this.host.count('restarts');
      this.start();
    }, directive.afterMs);
    this.timers.add(t);
  }

  stop(): Promise<void> {
    if (this.stopping) return this.stopping;
    this.state = 'stopped';
    this.clearTimers();
    this.host.removeCell(this.ref.id);
    for (const envelope of this.queue.splice(0)) this.host.deadLetter(envelope, 'actor stopped');
    const instance = this.instance;
    this.instance = undefined;
    this.stopping = (async () => {
      try {
        await instance?.stopped?.();
      } catch (err) {
        this.host.log(`[runtime] ${this.label}: error while stopping: ${(err as Error).message}`);
      }
    })();
    return this.stopping;
  }

  private clearTimers(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}

function cancelOf(timers: Set<NodeJS.Timeout>, t: NodeJS.Timeout): Cancellable {
  return { cancel: () => { clearTimeout(t); timers.delete(t); } };
}

function isPromise(value: unknown): value is Promise<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as Promise<unknown>).then === 'function';
}

const bodyGetters = new WeakMap<object, ((this: object) => unknown) | undefined>();
/**
 * The oneof case of a message still in object form, read by the type's own
 * `body` getter (protobufjs' oneof getter works on any object with the fields):
 * no copy of the message, as fromObject would make, for each traced delivery.
 */
function bodyCaseOf(type: object, message: object): string {
  if (!bodyGetters.has(type)) {
    const prototype = (type as { prototype?: object }).prototype;
    bodyGetters.set(type, prototype ? Object.getOwnPropertyDescriptor(prototype, 'body')?.get : undefined);
  }
  const getter = bodyGetters.get(type);
  return getter ? String(getter.call(message) ?? '') : '';
}
