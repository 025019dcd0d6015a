// One TCP connection to another peer, both directions at once. As a client it
// turns FetchPiece commands into a pipeline of 16 KiB block requests (several
// in flight, so the link never idles waiting for a round trip) and hands each
// arriving block to the piece store. As a server it answers the remote's
// manifest and block requests from the piece store, under the upload limit.
// Frames are varint-length-delimited p2p.v1.PeerFrame messages.
//
// Accepts ConnectionCommand: FetchPiece, CancelPiece, FetchManifest (ask ->
// ManifestResult), Close.
// Sends StoreCommand (GetManifest, ReadBlock asks; WriteBlock),
// SessionCommand.PieceAbandoned, TcpEndpointCommand.ConnectionClosed.
import type * as net from 'node:net';
import { p2p } from '../../gen/proto';
import { defineBehavior, type ActorContext, type ActorRef, type Delivery } from '../../runtime';
import { FrameDecoder, delimit } from '../../core/frame-codec';
import { blocksOfPiece } from '../../core/manifest';
import { hex } from '../../core/hex';
import type { TokenBucket } from '../../core/rate';

type Command = p2p.v1.ConnectionCommand.$Properties;
type SessionRef = ActorRef<p2p.v1.SessionCommand.$Properties>;
type StoreRef = ActorRef<p2p.v1.StoreCommand.$Properties>;

export interface PeerConnectionProps {
  peerIdHex: string;
  store: StoreRef;
  endpoint: ActorRef<p2p.v1.TcpEndpointCommand.$Properties>;
  key: string;
}

/** Host-local objects handed over by the endpoint: the socket and the peer's shared upload bucket. */
export interface ConnectionResources {
  socket: net.Socket;
  upload?: TokenBucket;
}

export const PROTOCOL_VERSION = 1;
/** Largest frame accepted: a manifest of 32,768 piece hashes fits with room. */
export const MAX_FRAME_BYTES = 2 * 1024 * 1024;
/** Block requests kept in flight on one connection. */
const PIPELINE_BLOCKS = 64;
/** Block requests from the remote we hold at most; more is abuse. */
const MAX_SERVING = 512;
const STORE_TIMEOUT_MS = 30_000;
const HELLO_TIMEOUT_MS = 10_000;

interface BlockWanted {
  contentId: Uint8Array;
  idHex: string;
  piece: number;
  offset: number;
  length: number;
}

interface PieceWanted {
  contentId: Uint8Array;
  /** Blocks not yet received. */
  remaining: number;
  session: SessionRef;
  store: StoreRef;
}

export const PeerConnection = defineBehavior<Command, PeerConnectionProps>({
  name: 'peer.PeerConnection',
  inbox: p2p.v1.ConnectionCommand,
  // It owns a socket: after a crash the connection is gone, and the sessions
  // that used it are told so and pick other holders.
  supervision: { kind: 'stop' },
  create: (ctx, props) => new PeerConnectionActor(ctx, props),
});

const pieceKey = (idHex: string, piece: number) => `${idHex}:${piece}`;
const blockKey = (idHex: string, piece: number, offset: number) => `${idHex}:${piece}:${offset}`;

class PeerConnectionActor {
  private readonly socket: net.Socket;
  private readonly decoder = new FrameDecoder(MAX_FRAME_BYTES);
  private remoteId: Uint8Array = new Uint8Array(0);
  private readonly queue: BlockWanted[] = [];
  private readonly outstanding = new Map<string, BlockWanted>();
  private readonly pieces = new Map<string, PieceWanted>();
  private readonly manifestWaiters = new Map<string, Delivery[]>();
  private readonly cancelled = new Set<string>();
  private serving = 0;
  private readonly upload?: TokenBucket;
  private uploadChain: Promise<void> = Promise.resolve();
  private closed = false;
  private helloTimer?: NodeJS.Timeout;

  constructor(private readonly ctx: ActorContext<Command>, private readonly props: PeerConnectionProps) {
    const resources = ctx.resource as ConnectionResources;
    this.socket = resources.socket;
    this.upload = resources.upload;
  }

  started(): void {
    this.socket.setNoDelay(true);
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
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
      case 'close': this.close('closed on request'); break;
      default: d.fail(`unsupported connection command ${String(m.body)}`);
    }
  }

  // ---- downloading from the remote ----

  private fetchPiece(f: p2p.v1.FetchPiece.$Properties): void {
    const contentId = f.contentId ?? new Uint8Array(0);
    const idHex = hex(contentId);
    const piece = f.piece ?? 0;
    if (!f.session || !f.store) return;
    if (this.closed) {
      this.ctx.tell(f.session as SessionRef, { pieceAbandoned: { contentId, piece, peerId: this.remoteId, reason: 'connection closed' } });
      return;
    }
    const blocks = blocksOfPiece(f.length ?? 0);
    this.pieces.set(pieceKey(idHex, piece), { contentId, remaining: blocks.length, session: f.session as SessionRef, store: f.store as StoreRef });
    for (const b of blocks) this.queue.push({ contentId, idHex, piece, offset: b.offset, length: b.length });
    this.pump();
  }

  private pump(): void {
    while (!this.closed && this.outstanding.size < PIPELINE_BLOCKS && this.queue.length > 0) {
      const b = this.queue.shift()!;
      if (!this.pieces.has(pieceKey(b.idHex, b.piece))) continue;
      this.outstanding.set(blockKey(b.idHex, b.piece, b.offset), b);
      this.send({ blockRequest: { contentId: b.contentId, piece: b.piece, offset: b.offset, length: b.length } });
    }
  }

  private cancelPiece(contentId: Uint8Array, piece: number): void {
    const idHex = hex(contentId);
    if (!this.pieces.delete(pieceKey(idHex, piece))) return;
    for (const [key, b] of this.outstanding) {
      if (b.idHex === idHex && b.piece === piece) {
        this.outstanding.delete(key);
        this.send({ blockCancel: { contentId, piece, offset: b.offset, length: b.length } });
      }
    }
    this.pump();
  }

  private onBlock(b: p2p.v1.Block.$Properties): void {
    const idHex = hex(b.contentId ?? new Uint8Array(0));
    const key = blockKey(idHex, b.piece ?? 0, b.offset ?? 0);
    const wanted = this.outstanding.get(key);
    if (!wanted) return; // cancelled, or never asked: ignore
    this.outstanding.delete(key);
    const piece = this.pieces.get(pieceKey(idHex, wanted.piece));
    const data = b.data ?? new Uint8Array(0);
    if (piece && data.length === wanted.length) {
      this.ctx.tell(piece.store, {
        writeBlock: { contentId: wanted.contentId, piece: wanted.piece, offset: wanted.offset, data, session: piece.session, peerId: this.remoteId },
      });
      if (--piece.remaining === 0) this.pieces.delete(pieceKey(idHex, wanted.piece));
    } else if (piece) {
      this.abandon(idHex, wanted.piece, `sent a block of ${data.length} bytes instead of ${wanted.length}`);
    }
    this.pump();
  }

  private abandon(idHex: string, piece: number, reason: string): void {
    const wanted = this.pieces.get(pieceKey(idHex, piece));
    if (!wanted) return;
    this.pieces.delete(pieceKey(idHex, piece));
    for (const [key, b] of this.outstanding) if (b.idHex === idHex && b.piece === piece) this.outstanding.delete(key);
    this.ctx.tell(wanted.session, { pieceAbandoned: { contentId: wanted.contentId, piece, peerId: this.remoteId, reason } });
  }

  // ---- serving the remote ----

  private async serveBlock(r: p2p.v1.BlockRequest.$Properties): Promise<void> {
    const contentId = r.contentId ?? new Uint8Array(0);
    const piece = r.piece ?? 0;
    const offset = r.offset ?? 0;
    const length = r.length ?? 0;
    const key = blockKey(hex(contentId), piece, offset);
    this.serving++;
    try {
      const block = await this.ctx.ask(this.props.store, { readBlock: { contentId, piece, offset, length } }, p2p.v1.BlockData, STORE_TIMEOUT_MS);
      if (this.cancelled.delete(key) || this.closed) return;
      if (block.error) {
        this.send({ blockRejected: { contentId, piece, offset, length, reason: block.error } });
        return;
      }
      const data = block.data ?? new Uint8Array(0);
      if (this.upload) await this.throttle(data.length);
      this.send({ block: { contentId, piece, offset, data } });
    } catch (err) {
      this.send({ blockRejected: { contentId, piece, offset, length, reason: (err as Error).message } });
    } finally {
      this.serving--;
    }
  }

  /** Waits until the upload limit lets `bytes` go, in request order. */
  private throttle(bytes: number): Promise<void> {
    const turn = this.uploadChain.then(() => {
      const waitMs = this.upload!.take(bytes, Date.now());
      return waitMs > 0 ? new Promise<void>((r) => setTimeout(r, waitMs)) : undefined;
    });
    this.uploadChain = turn;
    return turn;
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

  private onData(chunk: Buffer): void {
    let frames: Uint8Array[];
    try {
      frames = this.decoder.push(chunk);
    } catch (err) {
      this.fatal(`bad framing: ${(err as Error).message}`);
      return;
    }
    for (const bytes of frames) {
      let frame: p2p.v1.PeerFrame;
      try {
        frame = p2p.v1.PeerFrame.decode(bytes);
      } catch (err) {
        this.fatal(`undecodable frame: ${(err as Error).message}`);
        return;
      }
      this.onFrame(frame);
      if (this.closed) return;
    }
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
      case 'blockRequest':
        if (this.serving >= MAX_SERVING) {
          this.fatal(`more than ${MAX_SERVING} block requests pending`);
          return;
        }
        void this.serveBlock(frame.blockRequest!);
        break;
      case 'block': this.onBlock(frame.block!); break;
      case 'blockCancel': {
        const c = frame.blockCancel!;
        if (this.cancelled.size < MAX_SERVING) this.cancelled.add(blockKey(hex(c.contentId ?? new Uint8Array(0)), c.piece ?? 0, c.offset ?? 0));
        break;
      }
      case 'blockRejected': {
        const r = frame.blockRejected!;
        this.abandon(hex(r.contentId ?? new Uint8Array(0)), r.piece ?? 0, `refused: ${r.reason ?? ''}`);
        this.pump();
        break;
      }
      case 'error': this.close(`the remote peer reported: ${frame.error!.message ?? ''}`); break;
      default: break; // a newer frame type: ignore it
    }
  }

  private send(frame: p2p.v1.PeerFrame.$Properties): void {
    if (this.closed) return;
    this.socket.write(delimit(p2p.v1.PeerFrame.encode(frame).finish()));
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
    for (const [key, p] of this.pieces) {
      const piece = Number(key.slice(key.lastIndexOf(':') + 1));
      this.ctx.tell(p.session, { pieceAbandoned: { contentId: p.contentId, piece, peerId: this.remoteId, reason } });
    }
    this.pieces.clear();
    this.outstanding.clear();
    this.queue.length = 0;
    for (const waiters of this.manifestWaiters.values()) for (const d of waiters) d.fail(reason);
    this.manifestWaiters.clear();
    this.ctx.tell(this.props.endpoint, { connectionClosed: { key: this.props.key } });
    this.ctx.stop();
  }
}
