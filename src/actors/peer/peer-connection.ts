// One TCP connection to another peer, both directions at once. As a client it
// turns FetchPiece commands into a pipeline of 16 KiB block requests (many in
// flight, so the link never idles waiting for a round trip), assembles each
// piece and hands it whole to the piece store. As a server it reads the
// remote's requested blocks from the store a window at a time and sends them
// under the peer's upload limit, the data going to the socket without a copy.
// Frames are varint-length-delimited p2p.v1.PeerFrame messages.
//
// Accepts ConnectionCommand: FetchPiece, CancelPiece, FetchManifest (ask ->
// ManifestResult), Close, SendHave, Watch.
// Sends StoreCommand (GetManifest, ReadBlock asks; WritePiece),
// SessionCommand (PieceAbandoned, PeerHas), TcpEndpointCommand.ConnectionClosed.
import type * as net from 'node:net';
import { p2p } from '../../gen/proto';
import { defineBehavior, wireTemplate, type ActorContext, type ActorRef, type Delivery, type WireTemplate } from '../../runtime';
import { FrameDecoder, bodyOf, delimit, delimitedSize } from '../../core/frame-codec';
import { blocksOfPiece } from '../../core/manifest';
import { hex } from '../../core/hex';
import {
  blockFrameHead, blockFrameWithoutData, maxBlockRequestBytes, readBulkFrame, writeBlockRequest, type BulkFrame,
} from './block-frame';
import { givePieceBuffer, takePieceBuffer } from './piece-buffers';
import { ServingWindows, type ServingWindow, type WindowRead } from './serving-windows';
import type { SocketReader } from './socket-reader';
import type { Traffic, UploadPriority } from './traffic';

type Command = p2p.v1.ConnectionCommand.$Properties;
type SessionRef = ActorRef<p2p.v1.SessionCommand.$Properties>;
type StoreRef = ActorRef<p2p.v1.StoreCommand.$Properties>;

export interface PeerConnectionProps {
  peerIdHex: string;
  store: StoreRef;
  endpoint: ActorRef<p2p.v1.TcpEndpointCommand.$Properties>;
  key: string;
}

/** Host-local objects handed over by the endpoint: the socket and the peer's shared traffic limits. */
export interface ConnectionResources {
  socket: net.Socket;
  traffic: Traffic;
  /** How a dialed socket's bytes arrive (into a shared buffer); without it, 'data' events. */
  reader?: SocketReader;
}

export const PROTOCOL_VERSION = 1;
/** Starts the reason of a refusal that is only for now: ask again later, or elsewhere. */
export const BUSY_REASON = 'busy';
/** Largest frame accepted: a manifest of 32,768 piece hashes fits with room. */
export const MAX_FRAME_BYTES = 2 * 1024 * 1024;
/** Block requests kept in flight on one connection (2 MiB of 16 KiB blocks)... */
const PIPELINE_BLOCKS = 128;
/** ...topped up once this many have arrived, so requests leave in batches (fewer, larger writes). */
const REQUEST_BATCH = 32;
/** Block requests from the remote we hold at most; more is abuse. */
const MAX_SERVING = 512;
/** Largest block the remote may ask for. */
const MAX_REQUEST_BYTES = 64 * 1024;
/** A piece refused as busy stays refused this long: its blocks were asked in one burst. */
const REFUSED_BURST_MS = 1000;
const MAX_REFUSED_REMEMBERED = 1024;
/** Blocks are served from windows of a piece read whole from the store. */
const READ_WINDOW = 256 * 1024;
/** Windows kept per connection: the one being sent and those read ahead. */
const CACHED_WINDOWS = 12;
/** Past this much unsent data on the socket, serving waits for it to drain. */
const SEND_HIGH_WATER = 4 * 1024 * 1024;
/** Pieces whose upload priority is remembered per connection. */
const REMEMBERED_SERVES = 64;
const STORE_TIMEOUT_MS = 30_000;
const HELLO_TIMEOUT_MS = 10_000;

interface BlockWanted {
  pieceKey: string;
  piece: number;
  offset: number;
  length: number;
}

interface PieceWanted {
  contentId: Uint8Array;
  piece: number;
  length: number;
  /** The piece, filled in as blocks arrive (taken when the first one does). */
  data?: Buffer;
  /** Blocks not yet received. */
  remaining: number;
  session: SessionRef;
  store: StoreRef;
}

interface ServeRequest {
  contentId: Uint8Array;
  idHex: string;
  piece: number;
  offset: number;
  length: number;
  /** pieceKeyOf(idHex, piece), and the key of the window that holds the block: made once per request. */
  pieceKey: string;
  windowKey?: string;
}

export const PeerConnection = defineBehavior<Command, PeerConnectionProps>({
  name: 'peer.PeerConnection',
  inbox: p2p.v1.ConnectionCommand,
  // It owns a socket: after a crash the connection is gone, and the sessions
  // that used it are told so and pick other holders.
  supervision: { kind: 'stop' },
  create: (ctx, props) => new PeerConnectionActor(ctx, props),
});

/** Blocks are served from aligned windows; a request across a window edge (never ours) gets its own. */
function windowStartOf(r: { offset: number; length: number }): number {
  const start = r.offset - (r.offset % READ_WINDOW);
  return r.offset + r.length > start + READ_WINDOW ? r.offset : start;
}

function windowLengthOf(r: { offset: number; length: number }, start: number): number {
  return Math.max(READ_WINDOW, r.offset + r.length - start);
}

const pieceKeyOf = (idHex: string, piece: number) => `${idHex}:${piece}`;
const blockKeyOf = (pieceKey: string, offset: number) => `${pieceKey}:${offset}`;
const EMPTY = new Uint8Array(0);
/** Where onBulkFrame reads a frame's fields (one thread, one frame at a time). */
const bulk: BulkFrame = { contentId: EMPTY, piece: 0, offset: 0, length: 0, data: EMPTY };

class PeerConnectionActor {
  private readonly socket: net.Socket;
  private readonly traffic: Traffic;
  private readonly decoder = new FrameDecoder(MAX_FRAME_BYTES);
  private remoteId: Uint8Array = new Uint8Array(0);
  // Downloading:
  private readonly queue: BlockWanted[] = [];
  private readonly outstanding = new Map<string, BlockWanted>();
  private readonly pieces = new Map<string, PieceWanted>();
  private readonly manifestWaiters = new Map<string, Delivery[]>();
  private readonly watchers = new Map<string, SessionRef[]>();
  /** Files (content id hex) the remote holds whole: no Have frame for them is sent. */
  private readonly remoteHasAll = new Set<string>();
  // Serving:
  private readonly serveQueue: ServeRequest[] = [];
  /** Blocks queued to serve, per piece: a piece with blocks queued is admitted for all of them. */
  private readonly queuedPerPiece = new Map<string, number>();
  /** Pieces refused as busy, until when: the other blocks of the same burst are refused too. */
  private readonly refusedPieces = new Map<string, number>();
  private readonly windows = new ServingWindows(CACHED_WINDOWS);
  private readonly servePriority = new Map<string, UploadPriority>();
  /** Per file served: its piece count and whether we are its original seed (asked of the store once). */
  private readonly servedFiles = new Map<string, Promise<{ pieceCount: number; seeding: boolean }>>();
  /** Files (content id hex) we serve as their original seed. */
  private readonly seeding = new Set<string>();
  private serving = false;
  private corked = false;
  private lastId: Buffer = Buffer.alloc(0);
  private lastIdHex = '';
  private paused = false;
  private closed = false;
  private helloTimer?: NodeJS.Timeout;
  private traceTemplates?: { remoteId: Uint8Array; in: WireTemplate; out: WireTemplate };

  private readonly reader?: SocketReader;

  constructor(private readonly ctx: ActorContext<Command>, private readonly props: PeerConnectionProps) {
    const resources = ctx.resource as ConnectionResources;
    this.socket = resources.socket;
    this.traffic = resources.traffic;
    this.reader = resources.reader;
  }

  started(): void {
    this.socket.setNoDelay(true);
    if (this.reader) this.reader.attach((chunk, transient) => this.onData(chunk, transient));
    else this.socket.on('data', (chunk: Buffer) => this.onData(chunk, false));
    this.socket.on('error', () => undefined); // 'close' follows and does the cleanup
    this.socket.on('close', () => this.close('connection closed'));
    this.helloTimer = setTimeout(() => this.close('no hello from the remote peer'), HELLO_TIMEOUT_MS);
    this.send({ hello: { protocolVersion: PROTOCOL_VERSION, peerId: Buffer.from(this.props.peerIdHex, 'hex') } });
  }

  stopped(): void {
    this.close('connection actor stopped');
  }

  receive(m: Command, d: Delivery): void {
    switch (m.body) {
      case 'fetchPiece': this.fetchPiece(m.fetchPiece!); break;
      case 'cancelPiece': this.cancelPiece(m.cancelPiece!.contentId ?? new Uint8Array(0), m.cancelPiece!.piece ?? 0); break;
      case 'fetchManifest': {
        const id = m.fetchManifest!.contentId ?? new Uint8Array(0);
        const waiters = this.manifestWaiters.get(hex(id)) ?? [];
        waiters.push(d);
        this.manifestWaiters.set(hex(id), waiters);
        if (waiters.length === 1) this.send({ manifestRequest: { contentId: id } });
        break;
      }
      case 'sendHave': {
        const { contentId, piece } = m.sendHave!;
        if (!this.remoteHasAll.has(this.idHexOf(contentId ?? EMPTY))) this.send({ have: { contentId, piece } });
        break;
      }
      case 'watch': {
        const w = m.watch!;
        if (!w.session) break;
        const idHex = hex(w.contentId ?? new Uint8Array(0));
        const list = (this.watchers.get(idHex) ?? []).filter((s) => s.id !== w.session!.id);
        this.watchers.set(idHex, [...list, w.session as SessionRef]);
        if (w.remoteHasAll) this.remoteHasAll.add(idHex);
        else this.remoteHasAll.delete(idHex);
        break;
      }
      case 'close': this.close('closed on request'); break;
      default: d.fail(`unsupported connection command ${String(m.body)}`);
    }
  }

  // ---- downloading from the remote ----

  private fetchPiece(f: p2p.v1.FetchPiece.$Properties): void {
    const contentId = f.contentId ?? new Uint8Array(0);
    const piece = f.piece ?? 0;
    if (!f.session || !f.store) return;
    if (this.closed) {
      this.ctx.tell(f.session as SessionRef, { pieceAbandoned: { contentId, piece, peerId: this.remoteId, reason: 'connection closed' } });
      return;
    }
    const pieceKey = pieceKeyOf(this.idHexOf(contentId), piece);
    if (this.pieces.has(pieceKey)) return;
    const length = f.length ?? 0;
    const blocks = blocksOfPiece(length);
    this.pieces.set(pieceKey, {
      contentId, piece, length, remaining: blocks.length,
      session: f.session as SessionRef, store: f.store as StoreRef,
    });
    for (const b of blocks) this.queue.push({ pieceKey, piece, offset: b.offset, length: b.length });
    this.pump();
  }

  /** Tops the pipeline up: the requests of one call leave in one buffer, in one write. */
  private pump(): void {
    if (this.closed || this.outstanding.size > PIPELINE_BLOCKS - REQUEST_BATCH) return;
    let out: Buffer | undefined;
    let at = 0;
    while (this.outstanding.size < PIPELINE_BLOCKS && this.queue.length > 0) {
      const b = this.queue.shift()!;
      const wanted = this.pieces.get(b.pieceKey);
      if (!wanted) continue; // cancelled
      this.outstanding.set(blockKeyOf(b.pieceKey, b.offset), b);
      const room = maxBlockRequestBytes(wanted.contentId.length);
      if (!out || at + room > out.length) {
        if (out) this.write(out.subarray(0, at));
        out = Buffer.allocUnsafe(room * (PIPELINE_BLOCKS - this.outstanding.size + 1));
        at = 0;
      }
      const start = at;
      at = writeBlockRequest(out, at, wanted.contentId, b.piece, b.offset, b.length);
      if (this.ctx.tracer.on) this.traceFrame('out', bodyOf(out.subarray(start, at)), at - start);
    }
    if (out) this.write(out.subarray(0, at));
  }

  private cancelPiece(contentId: Uint8Array, piece: number): void {
    const pieceKey = pieceKeyOf(this.idHexOf(contentId), piece);
    const wanted = this.pieces.get(pieceKey);
    if (!wanted) return;
    this.pieces.delete(pieceKey);
    givePieceBuffer(wanted.data);
    for (const [key, b] of this.outstanding) {
      if (b.pieceKey === pieceKey) {
        this.outstanding.delete(key);
        this.send({ blockCancel: { contentId, piece, offset: b.offset, length: b.length } });
      }
    }
    this.pump();
  }

  /** A block arrived; `data` may be a view into a buffer reused after this call, so it is copied into its piece. */
  private onBlock(contentId: Uint8Array, pieceIndex: number, offset: number, data: Uint8Array): void {
    const pieceKey = pieceKeyOf(this.idHexOf(contentId), pieceIndex);
    const key = blockKeyOf(pieceKey, offset);
    const wanted = this.outstanding.get(key);
    if (!wanted) return; // cancelled, or never asked: ignore
    this.outstanding.delete(key);
    const piece = this.pieces.get(pieceKey);
    if (piece && data.length === wanted.length) {
      piece.data ??= takePieceBuffer(piece.length);
      piece.data.set(data, wanted.offset);
      if (--piece.remaining === 0) {
        this.pieces.delete(pieceKey);
        // The buffer goes with the piece; the store gives it back once written.
        this.ctx.tell(piece.store, {
          writePiece: { contentId: piece.contentId, piece: piece.piece, data: piece.data, session: piece.session, peerId: this.remoteId },
        });
      }
    } else if (piece) {
      this.abandon(pieceKey, `sent a block of ${data.length} bytes instead of ${wanted.length}`);
    }
    this.pump();
  }

  private abandon(pieceKey: string, reason: string): void {
    const wanted = this.pieces.get(pieceKey);
    if (!wanted) return;
    this.pieces.delete(pieceKey);
    givePieceBuffer(wanted.data);
    for (const [key, b] of this.outstanding) if (b.pieceKey === pieceKey) this.outstanding.delete(key);
    this.ctx.tell(wanted.session, { pieceAbandoned: { contentId: wanted.contentId, piece: wanted.piece, peerId: this.remoteId, reason } });
  }

  private onHave(h: p2p.v1.Have.$Properties): void {
    const contentId = h.contentId ?? new Uint8Array(0);
    for (const session of this.watchers.get(hex(contentId)) ?? []) {
      this.ctx.tell(session, { peerHas: { contentId, peerId: this.remoteId, piece: h.piece ?? 0 } });
    }
  }

  // ---- serving the remote ----

  /** A block request; `id` may be a view into a buffer reused after this call (the request keeps a copy). */
  private onBlockRequest(id: Uint8Array, piece: number, offset: number, length: number): void {
    const idHex = this.idHexOf(id);
    const contentId = this.lastId; // idHexOf's own copy of `id`
    const request: ServeRequest = { contentId, idHex, piece, offset, length, pieceKey: pieceKeyOf(idHex, piece) };
    if (request.length === 0 || request.length > MAX_REQUEST_BYTES) {
      this.send({ blockRejected: { ...request, reason: `blocks are 1 to ${MAX_REQUEST_BYTES} bytes` } });
      return;
    }
    if (this.serveQueue.length >= MAX_SERVING) {
      this.fatal(`more than ${MAX_SERVING} block requests pending`);
      return;
    }
    const pieceKey = request.pieceKey;
    if (this.traffic.uploadLimited && !this.queuedPerPiece.has(pieceKey) && this.refusesForBacklog(pieceKey)) {
      this.reject(request, `${BUSY_REASON}: my upload is full; ask another peer, or me again soon`);
      return;
    }
    if (!this.servePriority.has(pieceKey)) {
      this.servePriority.set(pieceKey, { rank: this.traffic.rankOf(pieceKey), requestedAt: Date.now() });
      if (this.servePriority.size > REMEMBERED_SERVES) this.servePriority.delete(this.servePriority.keys().next().value!);
    }
    this.serveQueue.push(request);
    this.countQueued(request, 1);
    if (this.traffic.uploadLimited) void this.fileInfo(request);
    // Read ahead: the store reads this block's window while earlier ones are sent.
    this.windowOf(request);
    if (!this.serving) void this.serve();
  }

  private onBlockCancel(c: p2p.v1.BlockCancel.$Properties): void {
    const idHex = hex(c.contentId ?? new Uint8Array(0));
    for (let i = this.serveQueue.length - 1; i >= 0; i--) {
      const r = this.serveQueue[i]!;
      if (r.idHex === idHex && r.piece === (c.piece ?? 0) && r.offset === (c.offset ?? 0)) this.countQueued(this.serveQueue.splice(i, 1)[0]!, -1);
    }
  }

  /** Sends queued blocks until the queue is empty; one loop per connection. */
  private async serve(): Promise<void> {
    this.serving = true;
    try {
      while (!this.closed && this.serveQueue.length > 0) {
        const r = this.takeNextRequest();
        const window = this.windowOf(r);
        const read = window.ready;
        if (read && !this.traffic.uploadLimited) {
          this.sendBlock(r, window, read); // read and nothing to wait for: no turn of the event loop per block
        } else {
          this.windows.hold(window); // its buffer must not go back to the pool while this turn waits
          try {
            await this.serveBlock(r, window);
          } finally {
            this.windows.release(window);
          }
        }
        if (this.socket.writableLength > SEND_HIGH_WATER) await this.drained();
      }
    } finally {
      this.serving = false;
    }
  }

  private async serveBlock(r: ServeRequest, window: ServingWindow): Promise<void> {
    const read = await window.read;
    if (this.closed) return;
    if (this.traffic.uploadLimited && this.fits(r, read)) {
      const ranked = this.servePriority.get(r.pieceKey);
      if (ranked && ranked.rank > 0 && await this.refuseSecondCopy(r, ranked.rank)) return;
      const priority = this.priorityOf(r) ?? { rank: 0, requestedAt: Date.now() };
      await this.traffic.whenCanSend(r.length, priority);
      if (this.closed) return;
    }
    this.sendBlock(r, window, read);
  }

  /** Whether the window read holds the whole block. */
  private fits(r: ServeRequest, read: WindowRead): boolean {
    const at = r.offset - windowStartOf(r);
    return !read.error && !!read.data && at + r.length <= read.data.length;
  }

  /** The block's frame to the socket, straight from the window (or a refusal when the window lacks it). */
  private sendBlock(r: ServeRequest, window: ServingWindow, read: WindowRead): void {
    if (!this.fits(r, read)) {
      this.reject(r, read.error || 'outside the piece');
      return;
    }
    const at = r.offset - windowStartOf(r);
    this.corkUntilNextTick();
    const head = blockFrameHead(r.contentId, r.piece, r.offset, r.length);
    const data = read.data!.subarray(at, at + r.length);
    this.socket.write(head);
    this.windows.hold(window); // until the socket has written the data
    this.socket.write(data, () => this.windows.release(window));
    if (this.ctx.tracer.on) this.traceBlock('out', r.contentId, r.piece, r.offset, data, head.length + data.length);
    this.traffic.sent(r.length);
  }

  /**
   * The next request to serve, taken off the queue. Unlimited: in arrival
   * order. Under an upload limit: in upload order (see Traffic), so a first
   * copy of a piece never waits behind a second copy of another.
   */
  private takeNextRequest(): ServeRequest {
    const r = this.traffic.uploadLimited ? this.serveQueue.splice(this.nextInUploadOrder(), 1)[0]! : this.serveQueue.shift()!;
    this.countQueued(r, -1);
    return r;
  }

  /** Where the next request to serve sits in the queue, in upload order. */
  private nextInUploadOrder(): number {
    let best = 0;
    let bestPriority: UploadPriority | undefined;
    for (let i = 0; i < this.serveQueue.length; i++) {
      const p = this.priorityOf(this.serveQueue[i]!);
      if (!p) continue;
      if (!bestPriority || p.rank < bestPriority.rank || (p.rank === bestPriority.rank && p.requestedAt < bestPriority.requestedAt)) {
        best = i;
        bestPriority = p;
      }
    }
    return best;
  }

  private countQueued(r: ServeRequest, delta: 1 | -1): void {
    const key = r.pieceKey;
    const n = (this.queuedPerPiece.get(key) ?? 0) + delta;
    if (n > 0) this.queuedPerPiece.set(key, n);
    else this.queuedPerPiece.delete(key);
    this.traffic.backlog(delta * r.length);
  }

  /** Whether a request for a piece not queued yet is refused: the peer's upload backlog is full. */
  private refusesForBacklog(pieceKey: string): boolean {
    const now = Date.now();
    if ((this.refusedPieces.get(pieceKey) ?? 0) > now) return true;
    this.refusedPieces.delete(pieceKey);
    if (!this.traffic.backlogFull) return false;
    this.refusedPieces.set(pieceKey, now + REFUSED_BURST_MS);
    if (this.refusedPieces.size > MAX_REFUSED_REMEMBERED) this.refusedPieces.delete(this.refusedPieces.keys().next().value!);
    return true;
  }

  private reject(r: ServeRequest, reason: string): void {
    this.send({ blockRejected: { contentId: r.contentId, piece: r.piece, offset: r.offset, length: r.length, reason } });
  }

  /** Blocks sent in one turn of the event loop leave in one writev. */
  private corkUntilNextTick(): void {
    if (this.corked) return;
    this.corked = true;
    this.socket.cork();
    process.nextTick(() => { this.corked = false; this.socket.uncork(); });
  }

  /** What the store says of a file we serve: asked once per file. */
  private fileInfo(r: ServeRequest): Promise<{ pieceCount: number; seeding: boolean }> {
    let info = this.servedFiles.get(r.idHex);
    if (!info) {
      info = this.ctx.ask(this.props.store, { getManifest: { contentId: r.contentId } }, p2p.v1.ManifestResult, STORE_TIMEOUT_MS)
        .then((m) => ({ pieceCount: m.manifest?.pieceHashes?.length ?? 0, seeding: !!m.original }), () => ({ pieceCount: 0, seeding: false }));
      void info.then((i) => { if (i.seeding) this.seeding.add(r.idHex); });
      this.servedFiles.set(r.idHex, info);
    }
    return info;
  }

  /**
   * A request's place in the upload order. Only an original seed puts first
   * copies first (its upload is what the swarm lacks most); every other peer
   * serves in the order requests arrived.
   */
  private priorityOf(r: ServeRequest): UploadPriority | undefined {
    const p = this.servePriority.get(r.pieceKey);
    return p && (!this.seeding.has(r.idHex) || !this.traffic.firstCopiesFirst) ? { rank: 0, requestedAt: p.requestedAt } : p;
  }

  /** Refuses every queued request for r's piece when the seed rule says so (Traffic.refusesSecondCopy). */
  private async refuseSecondCopy(r: ServeRequest, rank: number): Promise<boolean> {
    const { pieceCount, seeding } = await this.fileInfo(r);
    if (!this.traffic.refusesSecondCopy(r.idHex, rank, pieceCount, seeding)) return false;
    const reason = `${BUSY_REASON}: another peer has this piece from me; take it from there`;
    this.reject(r, reason);
    for (let i = this.serveQueue.length - 1; i >= 0; i--) {
      const q = this.serveQueue[i]!;
      if (q.idHex !== r.idHex || q.piece !== r.piece) continue;
      this.countQueued(this.serveQueue.splice(i, 1)[0]!, -1);
      this.reject(q, reason);
    }
    this.servePriority.delete(r.pieceKey); // asked again later, it is ranked again
    return true;
  }

  private drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => { this.socket.off('drain', done); this.socket.off('close', done); resolve(); };
      this.socket.on('drain', done);
      this.socket.on('close', done);
    });
  }

  /** The window of the piece that holds request `r`, read once (ahead of its turn) and shared by its blocks. */
  private windowOf(r: ServeRequest): ServingWindow {
    const start = windowStartOf(r);
    const length = windowLengthOf(r, start);
    r.windowKey ??= `${r.pieceKey}:${start}:${length}`;
    return this.windows.get(r.windowKey, () => this.ctx.ask(this.props.store,
      { readBlock: { contentId: r.contentId, piece: r.piece, offset: start, length } }, p2p.v1.BlockData, STORE_TIMEOUT_MS));
  }

  private async serveManifest(contentId: Uint8Array): Promise<void> {
    try {
      const r = await this.ctx.ask(this.props.store, { getManifest: { contentId } }, p2p.v1.ManifestResult, STORE_TIMEOUT_MS);
      this.send({ manifestResponse: r.found ? { contentId, manifest: r.manifest } : { contentId } });
    } catch {
      this.send({ manifestResponse: { contentId } });
    }
  }

  // ---- the wire ----

  /** Bytes from the socket; `transient` ones are only valid during this call, and what is kept is copied. */
  private onData(chunk: Uint8Array, transient: boolean): void {
    if (this.closed) return;
    const pauseMs = this.traffic.received(chunk.length);
    if (pauseMs > 0 && !this.paused) {
      // Over the download limit: stop reading; TCP tells the sender to wait.
      this.paused = true;
      this.socket.pause();
      setTimeout(() => { this.paused = false; if (!this.closed) this.socket.resume(); }, Math.ceil(pauseMs));
    }
    let frames: Uint8Array[];
    try {
      frames = this.decoder.push(chunk, transient);
    } catch (err) {
      this.fatal(`bad framing: ${(err as Error).message}`);
      return;
    }
    for (let bytes of frames) {
      if (this.remoteId.length > 0 && this.onBulkFrame(bytes)) {
        if (this.closed) return;
        continue;
      }
      // Frames that reach protobufjs are the rare ones (every kind but Block and
      // BlockRequest, and those encoded unusually) and may be kept (a peer id, a
      // content id): out of a reused read buffer they are copied first.
      if (transient) bytes = Uint8Array.from(bytes);
      let frame: p2p.v1.PeerFrame;
      try {
        frame = p2p.v1.PeerFrame.decode(bytes);
      } catch (err) {
        if (this.ctx.tracer.on) this.traceFrame('in', bytes.subarray(0, 1024), bytes.length);
        this.fatal(`undecodable frame: ${(err as Error).message}`);
        return;
      }
      if (this.ctx.tracer.on) {
        const wireBytes = delimitedSize(bytes.length);
        if (frame.body === 'block') {
          const b = frame.block!;
          this.traceBlock('in', b.contentId ?? new Uint8Array(0), b.piece ?? 0, b.offset ?? 0, b.data ?? new Uint8Array(0), wireBytes);
        } else {
          this.traceFrame('in', bytes, wireBytes);
        }
      }
      this.onFrame(frame);
      if (this.closed) return;
    }
  }

  /** A Block or a BlockRequest read by hand (see block-frame.ts); false for any other frame. */
  private onBulkFrame(bytes: Uint8Array): boolean {
    const kind = readBulkFrame(bytes, bulk);
    if (!kind) return false;
    const { contentId, piece, offset, length, data } = bulk;
    if (this.ctx.tracer.on) {
      if (kind === 'block') this.traceBlock('in', contentId, piece, offset, data, delimitedSize(bytes.length));
      else this.traceFrame('in', bytes, delimitedSize(bytes.length));
    }
    if (kind === 'block') this.onBlock(contentId, piece, offset, data);
    else this.onBlockRequest(contentId, piece, offset, length);
    return true;
  }

  private onFrame(frame: p2p.v1.PeerFrame): void {
    if (frame.body !== 'hello' && this.remoteId.length === 0) {
      this.fatal('the first frame was not a hello');
      return;
    }
    switch (frame.body) {
      case 'hello': {
        if (this.helloTimer) clearTimeout(this.helloTimer);
        if ((frame.hello!.protocolVersion ?? 0) !== PROTOCOL_VERSION) {
          this.fatal(`unsupported protocol version ${frame.hello!.protocolVersion}`);
          return;
        }
        this.remoteId = frame.hello!.peerId?.length ? frame.hello!.peerId : new Uint8Array(1);
        break;
      }
      case 'manifestRequest': void this.serveManifest(frame.manifestRequest!.contentId ?? new Uint8Array(0)); break;
      case 'manifestResponse': {
        const r = frame.manifestResponse!;
        const idHex = hex(r.contentId ?? new Uint8Array(0));
        for (const d of this.manifestWaiters.get(idHex) ?? []) {
          d.reply(p2p.v1.ManifestResult, r.manifest ? { found: true, manifest: r.manifest } : { found: false });
        }
        this.manifestWaiters.delete(idHex);
        break;
      }
      case 'blockRequest': {
        const r = frame.blockRequest!;
        this.onBlockRequest(r.contentId ?? EMPTY, r.piece ?? 0, r.offset ?? 0, r.length ?? 0);
        break;
      }
      case 'block': {
        const b = frame.block!;
        this.onBlock(b.contentId ?? EMPTY, b.piece ?? 0, b.offset ?? 0, b.data ?? EMPTY);
        break;
      }
      case 'blockCancel': this.onBlockCancel(frame.blockCancel!); break;
      case 'blockRejected': {
        const r = frame.blockRejected!;
        this.abandon(pieceKeyOf(hex(r.contentId ?? new Uint8Array(0)), r.piece ?? 0), `refused: ${r.reason ?? ''}`);
        this.pump();
        break;
      }
      case 'have': this.onHave(frame.have!); break;
      case 'error': this.close(`the remote peer reported: ${frame.error!.message ?? ''}`); break;
      default: break; // a newer frame type: ignore it
    }
  }

  private send(frame: p2p.v1.PeerFrame.$Properties): void {
    if (this.closed) return;
    const bytes = p2p.v1.PeerFrame.encode(frame).finish();
    const delimited = delimit(bytes);
    this.write(delimited);
    if (this.ctx.tracer.on) this.traceFrame('out', bytes, delimited.length);
  }

  /** Frames written in one turn of the event loop leave together. */
  private write(frames: Uint8Array): void {
    this.corkUntilNextTick();
    this.socket.write(frames);
  }

  // ---- tracing ----

  /** What every record of this connection in one direction shares, encoded once (again after the hello). */
  private templateFor(direction: 'in' | 'out'): WireTemplate {
    if (this.traceTemplates?.remoteId !== this.remoteId) {
      const of = (d: 'in' | 'out') => wireTemplate({
        transport: 'tcp', direction: d, local: `${this.socket.localAddress}:${this.socket.localPort}`,
        remote: `${this.socket.remoteAddress}:${this.socket.remotePort}`, messageType: 'p2p.v1.PeerFrame',
        remotePeerId: this.remoteId.length > 1 ? this.remoteId : undefined, actor: this.ctx.self.id,
      });
      this.traceTemplates = { remoteId: this.remoteId, in: of('in'), out: of('out') };
    }
    return this.traceTemplates[direction];
  }

  private traceFrame(direction: 'in' | 'out', message: Uint8Array, wireBytes: number): void {
    this.ctx.tracer.wireFrom(this.templateFor(direction), message, wireBytes);
  }

  /** A Block frame, its data recorded whole only with --trace-payloads. */
  private traceBlock(direction: 'in' | 'out', contentId: Uint8Array, piece: number, offset: number, data: Uint8Array, wireBytes: number): void {
    if (this.ctx.tracer.payloads) {
      this.traceFrame(direction, p2p.v1.PeerFrame.encode({ block: { contentId, piece, offset, data } }).finish(), wireBytes);
    } else {
      this.ctx.tracer.wireFrom(this.templateFor(direction), blockFrameWithoutData(contentId, piece, offset), wireBytes, data);
    }
  }

  /** hex() of a content id, remembered for the one a connection mostly sees. */
  private idHexOf(id: Uint8Array): string {
    if (this.lastId.length === id.length && Buffer.compare(this.lastId, id) === 0) return this.lastIdHex;
    this.lastId = Buffer.from(id);
    this.lastIdHex = hex(id);
    return this.lastIdHex;
  }

  private fatal(reason: string): void {
    this.ctx.log(`closing the connection to ${this.props.key}: ${reason}`);
    this.send({ error: { message: reason } });
    this.close(reason);
  }

  private close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    if (this.helloTimer) clearTimeout(this.helloTimer);
    this.socket.end(); // flushes a last error frame, if any
    setTimeout(() => this.socket.destroy(), 1000).unref();
    for (const p of this.pieces.values()) {
      this.ctx.tell(p.session, { pieceAbandoned: { contentId: p.contentId, piece: p.piece, peerId: this.remoteId, reason } });
    }
    this.pieces.clear();
    this.outstanding.clear();
    this.queue.length = 0;
    for (const r of this.serveQueue.splice(0)) this.countQueued(r, -1);
    this.windows.clear();
    for (const waiters of this.manifestWaiters.values()) for (const d of waiters) d.fail(reason);
    this.manifestWaiters.clear();
    this.ctx.tell(this.props.endpoint, { connectionClosed: { key: this.props.key } });
    this.ctx.stop();
  }
}
