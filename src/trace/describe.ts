// Turns trace records into something to read: a line per record for people,
// a JSON object per record for scripts. Messages inside a record (wire
// messages, actor message bodies) are decoded by their type name with
// protobufjs reflection over the files in proto/, the same schemas any other
// protobuf tool would use.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as protobuf from 'protobufjs';
import { p2p } from '../gen/proto';
import { hex } from '../core/hex';

const PROTO_DIR = path.join(__dirname, '..', '..', '..', 'proto');
/** Bytes fields up to this size are shown in hex; longer ones as their size. */
const HEX_UP_TO = 32;

let root: protobuf.Root | undefined;

/** Every schema in proto/, loaded once. */
export function protoRoot(): protobuf.Root {
  if (!root) {
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        if (e.isDirectory()) walk(path.join(dir, e.name));
        else if (e.name.endsWith('.proto')) files.push(path.join(dir, e.name));
      }
    };
    walk(PROTO_DIR);
    root = new protobuf.Root();
    root.resolvePath = (_origin, target) => (path.isAbsolute(target) ? target : path.join(PROTO_DIR, target));
    root.loadSync(files, { keepCase: false });
  }
  return root;
}

export type RecordKind = 'wire' | 'actor' | 'spawned' | 'started' | 'empty';

export interface Described {
  kind: RecordKind;
  time: string;
  timeMs: number;
  host: string;
  /** Short type for display and filters: "PeerFrame.block", "StoreCommand.writePiece". */
  label: string;
  /** The decoded message (wire) or body (actor), bytes shown short. */
  fields?: Record<string, unknown>;
  record: p2p.v1.TraceRecord;
}

/** Decodes `bytes` as `typeName`; returns its oneof case and its fields, shortened for display. */
export function decodeMessage(typeName: string, bytes: Uint8Array | null | undefined): { bodyCase: string; fields: Record<string, unknown> } {
  if (!bytes || bytes.length === 0) return { bodyCase: '', fields: {} };
  try {
    const type = protoRoot().lookupType(typeName);
    const message = type.decode(bytes);
    const object = type.toObject(message, { longs: Number, enums: String, oneofs: true, defaults: false }) as Record<string, unknown>;
    const bodyCase = typeof object.body === 'string' ? object.body : '';
    const inner = bodyCase ? (object[bodyCase] as Record<string, unknown> | undefined) ?? {} : object;
    return { bodyCase, fields: shorten(inner) as Record<string, unknown> };
  } catch (err) {
    return { bodyCase: '(undecodable)', fields: { error: (err as Error).message } };
  }
}

function shorten(value: unknown): unknown {
  if (value instanceof Uint8Array) return value.length <= HEX_UP_TO ? hex(value) : `<${value.length} bytes>`;
  if (Array.isArray(value)) return value.length > 8 ? [...value.slice(0, 8).map(shorten), `... ${value.length} in all`] : value.map(shorten);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).filter(([k]) => k !== 'body').map(([k, v]) => [k, shorten(v)]));
  }
  return value;
}

const shortType = (t: string) => t.replace(/^p2p\.v1\./, '');

/** A left-out payload's checksum: CRC-32, or (in older traces) the start of its SHA-256. */
function shortHash(w: p2p.v1.WireEvent.$Properties): string {
  if (w.payloadSha256Prefix?.length) return `sha256 ${hex(w.payloadSha256Prefix)}...`;
  return `crc32 ${(w.payloadCrc32 ?? 0).toString(16).padStart(8, '0')}`;
}

export function describe(record: p2p.v1.TraceRecord): Described {
  const timeMs = record.timeMs ?? 0;
  const date = new Date(timeMs);
  const time = Number.isNaN(date.getTime()) ? '(no valid time)          ' : date.toISOString();
  const base = { time, timeMs, host: record.host ?? '', record };
  if (record.wire) {
    const w = record.wire;
    const { bodyCase, fields } = decodeMessage(w.messageType ?? '', w.message);
    if (w.payloadBytes) fields.data = `<${w.payloadBytes} bytes, ${shortHash(w)}>`;
    return { ...base, kind: 'wire', label: `${shortType(w.messageType ?? '?')}${bodyCase ? `.${bodyCase}` : ''}`, fields };
  }
  if (record.actor) {
    const a = record.actor;
    const decoded = a.body?.length ? decodeMessage(a.type ?? '', a.body) : { bodyCase: a.bodyCase ?? '', fields: {} };
    const bodyCase = a.bodyCase || decoded.bodyCase;
    return { ...base, kind: 'actor', label: `${shortType(a.type || '(empty reply)')}${bodyCase ? `.${bodyCase}` : ''}`, fields: decoded.fields };
  }
  if (record.spawned) return { ...base, kind: 'spawned', label: 'spawned' };
  if (record.started) return { ...base, kind: 'started', label: 'started' };
  return { ...base, kind: 'empty', label: '(empty record)' };
}

/** Actor ids to behaviour names, learnt from `spawned` records. */
export class ActorNames {
  private readonly names = new Map<string, string>();

  learn(record: p2p.v1.TraceRecord): void {
    if (record.spawned?.id) this.names.set(record.spawned.id, record.spawned.behavior ?? '');
  }

  name(id: string | null | undefined): string {
    if (!id) return '?';
    const behavior = this.names.get(id);
    return behavior ? `${behavior}(${id})` : id;
  }
}

function formatFields(fields: Record<string, unknown> | undefined): string {
  if (!fields || Object.keys(fields).length === 0) return '';
  const parts = Object.entries(fields).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
  const text = parts.join(' ');
  return text.length > 240 ? `${text.slice(0, 237)}...` : text;
}

/** One readable line: time, host, direction and endpoints (or actors), type, the important fields. */
export function toLine(d: Described, names: ActorNames): string {
  const time = d.time.slice(11, 23);
  const head = `${time} ${d.host.padEnd(8)}`;
  const r = d.record;
  if (d.kind === 'wire') {
    const w = r.wire!;
    const transport = w.transport === p2p.v1.WireEvent.Transport.UDP ? 'UDP' : 'TCP';
    const out = w.direction === p2p.v1.WireEvent.Direction.OUT;
    const ends = out ? `${w.local} -> ${w.remote}` : `${w.remote} -> ${w.local}`;
    const peer = w.remotePeerId?.length ? ` peer ${hex(w.remotePeerId).slice(0, 8)}` : '';
    return `${head} ${transport} ${out ? 'out' : 'in '} ${ends}${peer}  ${d.label} ${formatFields(d.fields)} (${w.wireBytes ?? 0} B)`;
  }
  if (d.kind === 'actor') {
    const a = r.actor!;
    return `${head} ${a.reply ? 'reply' : 'actor'} ${names.name(a.from)} -> ${names.name(a.to)}  ${d.label} ${formatFields(d.fields)} (${a.bytes ?? 0} B)`;
  }
  if (d.kind === 'spawned') return `${head} spawned ${r.spawned!.behavior}(${r.spawned!.id})`;
  if (d.kind === 'empty') return `${head} (an empty record)`;
  const s = r.started!;
  return `${head} trace started: ${s.role} ${hex(s.peerId ?? new Uint8Array(0)).slice(0, 8)} ${s.listen ?? ''} (payloads ${s.payloads ? 'recorded' : 'left out'}, ${s.version ?? ''})`;
}

/** One JSON object (NDJSON line) per record. */
export function toJson(d: Described, names: ActorNames): Record<string, unknown> {
  const r = d.record;
  const out: Record<string, unknown> = { time: d.time, host: d.host, kind: d.kind, type: d.label };
  if (r.wire) {
    const w = r.wire;
    Object.assign(out, {
      transport: w.transport === p2p.v1.WireEvent.Transport.UDP ? 'udp' : 'tcp',
      direction: w.direction === p2p.v1.WireEvent.Direction.OUT ? 'out' : 'in',
      local: w.local, remote: w.remote, wireBytes: w.wireBytes ?? 0, actor: names.name(w.actor),
      ...(w.remotePeerId?.length ? { peer: hex(w.remotePeerId) } : {}), message: d.fields,
    });
  } else if (r.actor) {
    const a = r.actor;
    Object.assign(out, { from: names.name(a.from), to: names.name(a.to), bytes: a.bytes ?? 0, reply: !!a.reply, message: d.fields });
  } else if (r.spawned) {
    Object.assign(out, { id: r.spawned.id, behavior: r.spawned.behavior });
  } else if (r.started) {
    Object.assign(out, { role: r.started.role, peer: hex(r.started.peerId ?? new Uint8Array(0)), listen: r.started.listen, payloads: !!r.started.payloads });
  }
  return out;
}

export interface TraceFilter {
  type?: string;
  peer?: string;
  actor?: string;
}

/** Whether a record passes the filters: --type (case or type name), --peer (id prefix or address), --actor (behaviour or id). */
export function matches(d: Described, f: TraceFilter, names: ActorNames): boolean {
  if (f.type) {
    const t = f.type.toLowerCase();
    const [typePart, casePart] = d.label.toLowerCase().split('.');
    if (d.label.toLowerCase() !== t && typePart !== t.replace(/^p2p\.v1\./, '') && casePart !== t) return false;
  }
  if (f.peer) {
    const w = d.record.wire;
    if (!w) return false;
    const id = w.remotePeerId?.length ? hex(w.remotePeerId) : '';
    if (!(id && id.startsWith(f.peer.toLowerCase())) && !(w.remote ?? '').includes(f.peer)) return false;
  }
  if (f.actor) {
    const a = f.actor.toLowerCase();
    const candidates = d.record.actor ? [d.record.actor.from, d.record.actor.to]
      : d.record.wire ? [d.record.wire.actor] : d.record.spawned ? [d.record.spawned.id] : [];
    if (!candidates.some((id) => names.name(id).toLowerCase().includes(a))) return false;
  }
  return true;
}
