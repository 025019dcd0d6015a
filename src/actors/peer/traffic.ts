// The peer's traffic, shared by all its connections on the swarm host (a plain
// object, not an actor: every block passes through it). It enforces the
// upload and download limits with token buckets, counts bytes and rates for
// the status line, and orders uploads: while the upload limit makes requests
// wait, a piece nobody has been sent yet goes before a second copy of
// another, and an older piece request before a newer one. A rate-limited seed
// so spends its upload on pieces the swarm lacks, and finishes each piece
// quickly so its receiver can pass it on. A seed with an upload limit goes
// further (see refusesSecondCopy): it sends each piece once before it sends
// any piece twice, as BitTorrent's super-seeding aims to. And a limited peer
// keeps only about two seconds of upload queued (see backlogFull): past that it
// answers busy, so a popular piece spreads from the peers that already got it
// instead of everyone queueing at its first holder.
import { RateMeter, limitBucket, type TokenBucket } from '../../core/rate';

/** Upload order: lower rank first (rank = earlier requesters of the same piece), then older. */
export interface UploadPriority {
  rank: number;
  requestedAt: number;
}

interface Waiter extends UploadPriority {
  bytes: number;
  seq: number;
  go: () => void;
}

const before = (a: Waiter, b: Waiter) =>
  a.rank !== b.rank ? a.rank < b.rank : a.requestedAt !== b.requestedAt ? a.requestedAt < b.requestedAt : a.seq < b.seq;

/** How many pieces' requester counts are remembered (oldest forgotten first). */
const MAX_RANKED_PIECES = 1 << 16;
/**
 * Under an upload limit, at most this many seconds of upload are kept queued
 * (and never less than MIN_BACKLOG_BYTES): past it, a request for a new piece
 * is refused as busy, as BitTorrent chokes, so the asker takes the piece from
 * another holder instead of queueing behind everyone else at this one.
 */
const UPLOAD_BACKLOG_SECONDS = 2;
const MIN_BACKLOG_BYTES = 512 * 1024;

export class Traffic {
  readonly up: RateMeter;
  readonly down: RateMeter;
  private readonly upload?: TokenBucket;
  private readonly download?: TokenBucket;
  private readonly waiting: Waiter[] = [];
  private readonly requesters = new Map<string, number>();
  /** Per file (content id hex): pieces that some peer has asked of us. */
  private readonly piecesAsked = new Map<string, number>();
  private timer?: NodeJS.Timeout;
  private seq = 0;
  /** Bytes of block requests queued on all connections, not yet being sent. */
  private backlogBytes = 0;

  /**
   * `firstCopiesFirst`: the upload side of rarest-first (on under `--policy rarest`): a limited
   * original seed sends pieces nobody has been sent before others, and refuses second copies.
   */
  constructor(readonly maxUp: number, readonly maxDown: number, private readonly clock: () => number = Date.now,
    readonly firstCopiesFirst = true) {
    const now = clock();
    this.upload = limitBucket(maxUp, now);
    this.download = limitBucket(maxDown, now);
    this.up = new RateMeter(5000, 20, now);
    this.down = new RateMeter(5000, 20, now);
  }

  get uploadLimited(): boolean {
    return this.upload !== undefined;
  }

  /** Counts queued (positive) or dequeued (negative) request bytes. */
  backlog(deltaBytes: number): void {
    this.backlogBytes += deltaBytes;
  }

  /** True when a request for a new piece should be refused as busy (see UPLOAD_BACKLOG_SECONDS). */
  get backlogFull(): boolean {
    return this.uploadLimited && this.backlogBytes >= Math.max(this.maxUp * UPLOAD_BACKLOG_SECONDS, MIN_BACKLOG_BYTES);
  }

  /** The rank of a new requester of `pieceKey`: 0 for the first, 1 for the next... */
  rankOf(pieceKey: string): number {
    const n = this.requesters.get(pieceKey) ?? 0;
    if (n === 0) {
      const idHex = pieceKey.slice(0, pieceKey.indexOf(':'));
      this.piecesAsked.set(idHex, (this.piecesAsked.get(idHex) ?? 0) + 1);
    }
    this.requesters.delete(pieceKey);
    this.requesters.set(pieceKey, n + 1);
    if (this.requesters.size > MAX_RANKED_PIECES) this.requesters.delete(this.requesters.keys().next().value!);
    return n;
  }

  /**
   * Whether a seed should refuse a request of rank `rank` (a second or later
   * copy of a piece) for a file of `pieceCount` pieces: yes while the upload
   * is limited and some piece of the file has never been asked of it. The
   * refused peer picks another piece, and gets this one from the peer that
   * took the first copy. Only an original seed (one that shared the file from
   * its folder) does this; unlimited peers, and downloaders, serve everything.
   */
  refusesSecondCopy(idHex: string, rank: number, pieceCount: number, seeding: boolean): boolean {
    return this.uploadLimited && this.firstCopiesFirst && seeding && rank > 0 && (this.piecesAsked.get(idHex) ?? 0) < pieceCount;
  }

  /** Resolves when `bytes` may be sent under the upload limit, in upload order. */
  whenCanSend(bytes: number, priority: UploadPriority): Promise<void> {
    return new Promise((go) => {
      const w: Waiter = { ...priority, bytes, seq: this.seq++, go };
      let i = this.waiting.length;
      while (i > 0 && before(w, this.waiting[i - 1]!)) i--;
      this.waiting.splice(i, 0, w);
      this.pump();
    });
  }

  private pump(): void {
    if (this.timer || !this.upload) return;
    while (this.waiting.length > 0) {
      const now = this.clock();
      const delay = this.upload.delayMs(now);
      if (delay > 0) {
        this.timer = setTimeout(() => { this.timer = undefined; this.pump(); }, Math.max(1, Math.ceil(delay)));
        return;
      }
      const w = this.waiting.shift()!;
      this.upload.spend(w.bytes, now);
      w.go();
    }
  }

  sent(bytes: number): void {
    this.up.record(bytes, this.clock());
  }

  /** Counts received bytes; returns how long the socket should pause to keep under the download limit. */
  received(bytes: number): number {
    const now = this.clock();
    this.down.record(bytes, now);
    if (!this.download) return 0;
    this.download.spend(bytes, now);
    return this.download.delayMs(now);
  }

  stats(): { bytesUp: number; bytesDown: number; upRate: number; downRate: number; maxUp: number; maxDown: number } {
    const now = this.clock();
    return {
      bytesUp: this.up.total, bytesDown: this.down.total, upRate: this.up.rate(now), downRate: this.down.rate(now),
      maxUp: Number.isFinite(this.maxUp) ? this.maxUp : 0, maxDown: Number.isFinite(this.maxDown) ? this.maxDown : 0,
    };
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
