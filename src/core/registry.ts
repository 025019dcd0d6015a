// The tracker's state, with no I/O: which peers are in the network, where
// they listen, and which pieces of which files each holds. The first announce
// for a peer id binds it to the SHA-256 of a secret key; only that key may
// update or remove the entry afterwards. Peers silent for three announce
// intervals expire. Time comes in as `now`.
import { createHash, timingSafeEqual } from 'node:crypto';
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
  keyDigest: Buffer;
  ip: string;
  port: number;
  lastSeen: number;
  files: Map<string, FileHoldingData>;
}

interface CatalogEntry {
  file: Omit<FileHoldingData, 'have' | 'complete'>;
  holders: Set<string>;
}

export interface RegistryOptions {
  announceIntervalMs: number;
  expiryIntervals?: number;
  maxPeers?: number;
  maxFilesPerPeer?: number;
}

export class SwarmRegistry {
  private readonly peers = new Map<string, PeerEntry>();
  private readonly files = new Map<string, CatalogEntry>();
  private readonly expiryMs: number;
  private readonly maxPeers: number;
  private readonly maxFilesPerPeer: number;

  constructor(options: RegistryOptions) {
    this.expiryMs = options.announceIntervalMs * (options.expiryIntervals ?? 3);
    this.maxPeers = options.maxPeers ?? 100_000;
    this.maxFilesPerPeer = options.maxFilesPerPeer ?? 1024;
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
    if (!a.ip || a.ip.length > 64) return invalid('the advertised ip is empty or too long');
    if (a.files.length > this.maxFilesPerPeer) return invalid(`more than ${this.maxFilesPerPeer} files in one announce`);
    for (const f of a.files) {
      const problem = this.checkHolding(f);
      if (problem) return invalid(problem);
    }
    const id = hex(a.peerId);
    const digest = keyDigest(a.peerKey);
    const existing = this.peers.get(id);
    if (existing && !timingSafeEqual(existing.keyDigest, digest)) {
      return { ok: false, code: 'NOT_OWNER', message: 'this peer id belongs to another key' };
    }
    if (!existing && this.peers.size >= this.maxPeers) return { ok: false, code: 'FULL', message: 'the tracker is full' };
    if (existing) this.dropHoldings(id, existing);
    const entry: PeerEntry = {
      peerId: new Uint8Array(a.peerId), keyDigest: digest, ip: a.ip, port: a.port, lastSeen: now, files: new Map(),
    };
    for (const f of a.files) {
      const fid = hex(f.contentId);
      entry.files.set(fid, { ...f, contentId: new Uint8Array(f.contentId), have: new Uint8Array(f.have) });
      let c = this.files.get(fid);
      if (!c) {
        c = { file: { contentId: new Uint8Array(f.contentId), name: f.name, size: f.size, pieceSize: f.pieceSize, pieceCount: f.pieceCount }, holders: new Set() };
        this.files.set(fid, c);
      }
      c.holders.add(id);
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
    if (!timingSafeEqual(entry.keyDigest, keyDigest(peerKey))) {
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

  catalog(): SwarmFileData[] {
    return [...this.files.values()].map((c) => {
      let seeds = 0;
      for (const h of c.holders) if (this.peers.get(h)?.files.get(hex(c.file.contentId))?.complete) seeds++;
      return { ...c.file, holderCount: c.holders.size, seedCount: seeds };
    });
  }

  holders(contentId: Uint8Array, excludePeerId?: Uint8Array): SwarmPeerData[] {
    const fid = hex(contentId);
    const c = this.files.get(fid);
    if (!c) return [];
    const skip = excludePeerId ? hex(excludePeerId) : undefined;
    const out: SwarmPeerData[] = [];
    for (const h of c.holders) {
      if (h === skip) continue;
      const p = this.peers.get(h);
      const f = p?.files.get(fid);
      if (!p || !f) continue;
      out.push({ peerId: p.peerId, ip: p.ip, port: p.port, have: f.complete ? new Uint8Array(0) : f.have, complete: f.complete });
    }
    return out;
  }

  private remove(id: string, entry: PeerEntry): void {
    this.dropHoldings(id, entry);
    this.peers.delete(id);
  }

  private dropHoldings(id: string, entry: PeerEntry): void {
    for (const fid of entry.files.keys()) {
      const c = this.files.get(fid);
      if (!c) continue;
      c.holders.delete(id);
      if (c.holders.size === 0) this.files.delete(fid);
    }
  }
}

function keyDigest(key: Uint8Array): Buffer {
  return createHash('sha256').update(key).digest();
}
