// The tracker's state, with no I/O: which peers are in the network, where
// they listen, and which pieces of which files each holds. The first announce
// for a peer id binds it to a secret key; only that key may update or remove
// the entry afterwards (compared in constant time). Peers silent for three
// announce intervals expire. Time comes in as `now`. Each file keeps its
// holders in an array so that a page of the swarm map is a slice, whatever
// the swarm's size.
import { timingSafeEqual } from 'node:crypto';
import { pieceCount } from './manifest';
import { hex } from './hex';

export interface FileHoldingData {
  contentId: Uint8Array;
  name: string;
  size: number;
  pieceSize: number;
  pieceCount: number;
  have: Uint8Array;
  complete: boolean;
}

export interface SwarmFileData {
  contentId: Uint8Array;
  name: string;
  size: number;
  pieceSize: number;
  pieceCount: number;
  holderCount: number;
  seedCount: number;
}

export interface SwarmPeerData {
  peerId: Uint8Array;
  ip: string;
  port: number;
  have: Uint8Array;
  complete: boolean;
}

export interface AnnounceData {
  peerId: Uint8Array;
  peerKey: Uint8Array;
  ip: string;
  port: number;
  files: FileHoldingData[];
}

export type RegistryRefusal = { ok: false; code: 'NOT_OWNER' | 'INVALID' | 'FULL'; message: string };

interface PeerEntry {
  peerId: Uint8Array;
  /** The secret key that owns this peer id. */
  key: Uint8Array;
  ip: string;
  port: number;
  lastSeen: number;
  files: Map<string, FileHoldingData>;
}

/** A file in the catalog and who holds it. */
interface CatalogEntry {
  file: Omit<FileHoldingData, 'have' | 'complete'>;
  /** Holder ids in page order: page k of the swarm map is a slice of this array. */
  holders: string[];
  /** Where each holder sits in `holders` (removal swaps the last one in). */
  slots: Map<string, number>;
  seeds: number;
}

export interface RegistryOptions {
  announceIntervalMs: number;
  expiryIntervals?: number;
  maxPeers?: number;
  maxFilesPerPeer?: number;
  maxPieceCount?: number;
}

/** A bitfield of this many pieces (50 KB) still fits a swarm-map datagram. */
export const MAX_PIECE_COUNT = 400_000;
const ADVERTISED_IP = /^[\x21-\x7e]{1,64}$/;
const EMPTY = new Uint8Array(0);

export class SwarmRegistry {
  private readonly peers = new Map<string, PeerEntry>();
  private readonly files = new Map<string, CatalogEntry>();
  private readonly expiryMs: number;
  private readonly maxPeers: number;
  private readonly maxFilesPerPeer: number;
  private readonly maxPieceCount: number;

  constructor(options: RegistryOptions) {
    this.expiryMs = options.announceIntervalMs * (options.expiryIntervals ?? 3);
    this.maxPeers = options.maxPeers ?? 100_000;
    this.maxFilesPerPeer = options.maxFilesPerPeer ?? 1024;
    this.maxPieceCount = options.maxPieceCount ?? MAX_PIECE_COUNT;
  }

  get peerCount(): number {
    return this.peers.size;
  }

  hasPeer(peerId: Uint8Array): boolean {
    return this.peers.has(hex(peerId));
  }

  peerIds(): Uint8Array[] {
    return [...this.peers.values()].map((p) => p.peerId);
  }

  announce(a: AnnounceData, now: number): { ok: true; isNew: boolean } | RegistryRefusal {
    const invalid = (message: string): RegistryRefusal => ({ ok: false, code: 'INVALID', message });
    if (a.peerId.length !== 16) return invalid('peer id must be 16 bytes');
    if (a.peerKey.length !== 32) return invalid('peer key must be 32 bytes');
    if (!Number.isInteger(a.port) || a.port < 1 || a.port > 65535) return invalid(`port ${a.port} is not a TCP port`);
    if (!ADVERTISED_IP.test(a.ip)) return invalid('the advertised ip is empty, longer than 64 characters or not printable ASCII');
    if (a.files.length > this.maxFilesPerPeer) return invalid(`more than ${this.maxFilesPerPeer} files in one announce`);
    for (const f of a.files) {
      const problem = this.checkHolding(f);
      if (problem) return invalid(problem);
    }
    const id = hex(a.peerId);
    const existing = this.peers.get(id);
    if (existing && !timingSafeEqual(existing.key, a.peerKey)) {
      return { ok: false, code: 'NOT_OWNER', message: 'this peer id belongs to another key' };
    }
    if (!existing && this.peers.size >= this.maxPeers) return { ok: false, code: 'FULL', message: 'the tracker is full' };
    const entry: PeerEntry = existing ?? {
      peerId: new Uint8Array(a.peerId), key: new Uint8Array(a.peerKey), ip: a.ip, port: a.port, lastSeen: now, files: new Map(),
    };
    entry.ip = a.ip;
    entry.port = a.port;
    entry.lastSeen = now;
    // Holdings are updated in place: a holder keeps its place in the page order.
    const announced = new Set<string>();
    for (const f of a.files) {
      const fid = hex(f.contentId);
      announced.add(fid);
      const before = entry.files.get(fid);
      entry.files.set(fid, {
        ...f, contentId: before?.contentId ?? new Uint8Array(f.contentId), have: f.complete ? EMPTY : copyInto(before?.have, f.have),
      });
      const c = this.files.get(fid) ?? this.addFile(fid, f);
      if (!before) this.addHolder(c, id, f.complete);
      else if (before.complete !== f.complete) c.seeds += f.complete ? 1 : -1;
    }
    if (existing) {
      for (const [fid, holding] of entry.files) {
        if (announced.has(fid)) continue;
        entry.files.delete(fid);
        this.dropHolder(fid, id, holding.complete);
      }
    }
    this.peers.set(id, entry);
    return { ok: true, isNew: !existing };
  }

  /** Why a holding cannot be accepted, or undefined. */
  private checkHolding(f: FileHoldingData): string | undefined {
    if (f.contentId.length !== 32) return 'a content id must be 32 bytes';
    if (!f.name || f.name.length > 255) return 'a file name is empty or longer than 255 characters';
    if (!Number.isSafeInteger(f.size) || f.size < 0) return `file ${f.name}: bad size`;
    if (!Number.isInteger(f.pieceSize) || f.pieceSize <= 0) return `file ${f.name}: bad piece size`;
    if (f.pieceCount !== pieceCount(f.size, f.pieceSize)) return `file ${f.name}: ${f.pieceCount} pieces do not match its size`;
    if (f.pieceCount > this.maxPieceCount) return `file ${f.name}: more than ${this.maxPieceCount} pieces (choose larger pieces)`;
    if (!f.complete && f.have.length !== 0 && f.have.length !== Math.ceil(f.pieceCount / 8)) return `file ${f.name}: bitfield of the wrong length`;
    const known = this.files.get(hex(f.contentId));
    if (known && (known.file.size !== f.size || known.file.pieceSize !== f.pieceSize || known.file.pieceCount !== f.pieceCount)) {
      return `file ${f.name}: size or pieces differ from what others announced for this content id`;
    }
    return undefined;
  }

  leave(peerId: Uint8Array, peerKey: Uint8Array): { ok: true; wasRegistered: boolean } | RegistryRefusal {
    const id = hex(peerId);
    const entry = this.peers.get(id);
    if (!entry) return { ok: true, wasRegistered: false };
    if (peerKey.length !== entry.key.length || !timingSafeEqual(entry.key, peerKey)) {
      return { ok: false, code: 'NOT_OWNER', message: 'this peer id belongs to another key' };
    }
    this.remove(id, entry);
    return { ok: true, wasRegistered: true };
  }

  /** Removes peers silent for too long; returns their ids. */
  expire(now: number): Uint8Array[] {
    const gone: Uint8Array[] = [];
    for (const [id, entry] of this.peers) {
      if (now - entry.lastSeen >= this.expiryMs) {
        this.remove(id, entry);
        gone.push(entry.peerId);
      }
    }
    return gone;
  }

  get fileCount(): number {
    return this.files.size;
  }

  /** Every file in the network, or one slice of them. */
  catalog(start = 0, end = Infinity): SwarmFileData[] {
    const out: SwarmFileData[] = [];
    let i = 0;
    for (const c of this.files.values()) {
      if (i >= end) break;
      if (i++ >= start) out.push(this.describe(c));
    }
    return out;
  }

  /** The catalog entry of one file, if anybody holds it. */
  fileInfo(contentId: Uint8Array): SwarmFileData | undefined {
    const c = this.files.get(hex(contentId));
    return c && this.describe(c);
  }

  /** How many peers hold a file. */
  holderCount(contentId: Uint8Array): number {
    return this.files.get(hex(contentId))?.holders.length ?? 0;
  }

  /** The holders of a file from position `start` to `end` (in page order), less the asker. */
  holders(contentId: Uint8Array, excludePeerId?: Uint8Array, start = 0, end = Infinity): SwarmPeerData[] {
    const fid = hex(contentId);
    const c = this.files.get(fid);
    if (!c) return [];
    const skip = excludePeerId ? hex(excludePeerId) : undefined;
    const out: SwarmPeerData[] = [];
    for (const h of c.holders.slice(start, end)) {
      if (h === skip) continue;
      const p = this.peers.get(h);
      const f = p?.files.get(fid);
      if (!p || !f) continue;
      out.push({ peerId: p.peerId, ip: p.ip, port: p.port, have: f.complete ? EMPTY : f.have, complete: f.complete });
    }
    return out;
  }

  private describe(c: CatalogEntry): SwarmFileData {
    return { ...c.file, holderCount: c.holders.length, seedCount: c.seeds };
  }

  private addFile(fid: string, f: FileHoldingData): CatalogEntry {
    const c: CatalogEntry = {
      file: { contentId: new Uint8Array(f.contentId), name: f.name, size: f.size, pieceSize: f.pieceSize, pieceCount: f.pieceCount },
      holders: [], slots: new Map(), seeds: 0,
    };
    this.files.set(fid, c);
    return c;
  }

  private addHolder(c: CatalogEntry, id: string, complete: boolean): void {
    c.slots.set(id, c.holders.length);
    c.holders.push(id);
    if (complete) c.seeds++;
  }

  private dropHolder(fid: string, id: string, complete: boolean): void {
    const c = this.files.get(fid);
    const slot = c?.slots.get(id);
    if (!c || slot === undefined) return;
    const last = c.holders.pop()!;
    if (last !== id) {
      c.holders[slot] = last;
      c.slots.set(last, slot);
    }
    c.slots.delete(id);
    if (complete) c.seeds--;
    if (c.holders.length === 0) this.files.delete(fid);
  }

  private remove(id: string, entry: PeerEntry): void {
    for (const [fid, holding] of entry.files) this.dropHolder(fid, id, holding.complete);
    this.peers.delete(id);
  }
}

/** `source` copied into `target` when the sizes match (no new allocation), else into a new array. */
function copyInto(target: Uint8Array | undefined, source: Uint8Array): Uint8Array {
  if (target && target !== EMPTY && target.length === source.length) {
    target.set(source);
    return target;
  }
  return source.length ? new Uint8Array(source) : EMPTY;
}
