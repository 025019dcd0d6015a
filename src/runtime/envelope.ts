// Encodes and decodes p2p.v1.HostMessage, the unit that travels between hosts.
// A delivery's body is written straight into the envelope's writer (the same
// bytes as a nested `bytes` field), and a writer for a message that carries a
// large payload starts at the right size, so a piece is copied in once and the
// writer's own buffer is what moves to the other thread; on decode the body
// stays a view into the received buffer.
import { Writer } from 'protobufjs/minimal';
import { p2p } from '../gen/proto';
import type { ActorRef, MessageClass } from './types';

const pb = p2p.v1;

export interface EnvelopeHeader {
  to: ActorRef;
  from?: ActorRef;
  type: string;
  askId?: number;
  isReply?: boolean;
  error?: string;
  sentAt: number;
}

export interface DecodedEnvelope extends EnvelopeHeader {
  body: Uint8Array;
  /**
   * A delivery that never left its thread carries the message object itself
   * and an empty body: the receiver rebuilds it with its type's fromObject.
   */
  message?: object;
}

export type HostMessage =
  | { kind: 'deliver'; envelope: DecodedEnvelope }
  | { kind: 'spawn'; ref: ActorRef; behavior: string; propsJson: string; parent?: ActorRef }
  | { kind: 'stop'; ref: ActorRef }
  | { kind: 'trace'; records: Uint8Array };

function refOf(r: p2p.v1.ActorRef.$Properties | null | undefined): ActorRef | undefined {
  if (!r) return undefined;
  return { host: r.host ?? 0, id: r.id ?? '', inbox: r.inbox ?? '' };
}

function plainRef(r: ActorRef): p2p.v1.ActorRef.$Properties {
  return { host: r.host, id: r.id, inbox: r.inbox };
}

/** Buffers made by encodeDelivery for one message alone: safe to move to another thread. */
const encoderOwned = new WeakSet<ArrayBufferLike>();
/** Payloads from this size up get a writer of their own size. */
const LARGE_PAYLOAD = 4096;

/** Bytes of the Uint8Array fields in a message object (a few levels deep). */
function payloadBytes(value: unknown, depth = 0): number {
  if (value instanceof Uint8Array) return value.byteLength;
  if (depth > 4 || value === null || typeof value !== 'object') return 0;
  let sum = 0;
  for (const v of Array.isArray(value) ? value : Object.values(value)) sum += payloadBytes(v, depth + 1);
  return sum;
}

function writerFor(payload: number): Writer {
  if (payload < LARGE_PAYLOAD) return Writer.create();
  const usual = Writer.initialBufferSize;
  Writer.initialBufferSize = payload + 1024; // room for the header fields and tags
  try {
    return Writer.create();
  } finally {
    Writer.initialBufferSize = usual;
  }
}

export function encodeDelivery<T>(header: EnvelopeHeader, bodyType: MessageClass<T>, body: T): Uint8Array {
  const payload = payloadBytes(body);
  const w = writerFor(payload);
  w.uint32(10).fork(); // HostMessage.deliver
  pb.ActorRef.encode(plainRef(header.to), w.uint32(10).fork()).ldelim();
  if (header.from) pb.ActorRef.encode(plainRef(header.from), w.uint32(18).fork()).ldelim();
  w.uint32(26).string(header.type);
  w.uint32(34).fork();
  bodyType.encode(body, w);
  w.ldelim();
  if (header.askId) w.uint32(40).uint32(header.askId);
  if (header.isReply) w.uint32(48).bool(true);
  if (header.error) w.uint32(58).string(header.error);
  w.uint32(65).double(header.sentAt);
  w.ldelim();
  if (payload < LARGE_PAYLOAD) return w.finish();
  const bytes = w.finish(true); // a view of the writer's own buffer: no final copy
  encoderOwned.add(bytes.buffer);
  return bytes;
}

export function encodeSpawn(ref: ActorRef, behavior: string, propsJson: string, parent?: ActorRef): Uint8Array {
  return pb.HostMessage.encode({
    spawn: { ref: plainRef(ref), behavior, propsJson, ...(parent ? { parent: plainRef(parent) } : {}) },
  }).finish();
}

export function encodeTraceBatch(records: Uint8Array): Uint8Array {
  return pb.HostMessage.encode({ trace: { records } }).finish();
}

export function encodeStop(ref: ActorRef): Uint8Array {
  return pb.HostMessage.encode({ stop: { ref: plainRef(ref) } }).finish();
}

/** Throws on malformed bytes; the host counts and drops such messages. */
export function decodeHostMessage(bytes: Uint8Array): HostMessage {
  const m = pb.HostMessage.decode(bytes);
  switch (m.body) {
    case 'deliver': {
      const e = m.deliver!;
      const to = refOf(e.to);
      if (!to) throw new Error('envelope without a recipient');
      return {
        kind: 'deliver',
        envelope: {
          to, from: refOf(e.from), type: e.type ?? '', body: e.body ?? new Uint8Array(0),
          askId: e.askId ?? 0, isReply: e.isReply ?? false, error: e.error ?? '', sentAt: e.sentAt ?? 0,
        },
      };
    }
    case 'spawn': {
      const s = m.spawn!;
      const ref = refOf(s.ref);
      if (!ref) throw new Error('spawn without a reference');
      return { kind: 'spawn', ref, behavior: s.behavior ?? '', propsJson: s.propsJson ?? '{}', parent: refOf(s.parent) };
    }
    case 'stop': {
      const ref = refOf(m.stop!.ref);
      if (!ref) throw new Error('stop without a reference');
      return { kind: 'stop', ref };
    }
    case 'trace': return { kind: 'trace', records: m.trace!.records ?? new Uint8Array(0) };
    default:
      throw new Error('empty host message');
  }
}

/**
 * True when `bytes` owns its whole ArrayBuffer, so it can be moved to another
 * thread in a transfer list. Small buffers from Node's pool share a slab and
 * must be copied instead (transferring would detach the whole pool).
 */
export function ownsBuffer(bytes: Uint8Array): boolean {
  if (!(bytes.buffer instanceof ArrayBuffer)) return false;
  return encoderOwned.has(bytes.buffer) || (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength);
}
