// One download session per file: the seed's loop. It asks the tracker which
// peers hold which pieces, picks the missing piece held by the fewest peers
// (rarest first), picks one of its holders at random, and has the connection
// to that holder fetch it; it repeats until the file is complete. To keep the
// links busy it keeps several pieces in flight, from several peers at once,
// each one still chosen rarest-first with a random holder:
//  - how many pieces one peer gets at a time follows how fast it delivers
//    (about QUEUE_SECONDS of its data), so a slow peer is not handed pieces
//    that faster ones could bring sooner, and memory stays bounded;
//  - connected peers' Have frames update the map between tracker refreshes;
//  - endgame: a peer with a free slot and nothing new to give also fetches a
//    piece in flight elsewhere; the first copy to arrive wins and the other
//    is cancelled.
//
// Accepts SessionCommand: Tick (refresh the swarm map), PieceVerified,
// PieceCorrupt, PieceAbandoned, DownloadFinished, DownloadFailed, PeerHas.
// Sends TrackerClientCommand.QuerySwarm (ask), TcpEndpointCommand.Dial (ask)
// and BroadcastHave, ConnectionCommand.FetchManifest (ask) / FetchPiece /
// CancelPiece / Watch, StoreCommand.OpenDownload (ask),
// ReplCommand.SessionProgress / SessionDone, HeartbeatCommand.AnnounceNow.
import { randomInt } from 'node:crypto';
import { p2p } from '../../gen/proto';
import { defineBehavior, type ActorContext, type ActorRef } from '../../runtime';
import { Bitfield, bitfieldFromBytes } from '../../core/bitfield';
import { contentId as computeContentId, pieceLength, validateManifest, type ManifestData } from '../../core/manifest';
import { hex } from '../../core/hex';
import { checkFileName } from '../../core/file-name';
import { MissingByAvailability, availability, pickDuplicate, pickPiece, type PeerView, type PieceInFlight, type PiecePolicy } from '../../core/picker';
import type { Rng } from '../../core/rng';
import { BUSY_REASON } from './peer-connection';

type Command = p2p.v1.SessionCommand.$Properties;
type ConnectionRef = ActorRef<p2p.v1.ConnectionCommand.$Properties>;

export interface DownloadSessionProps {
  contentIdHex: string;
  name: string;
  store: ActorRef<p2p.v1.StoreCommand.$Properties>;
  tracker: ActorRef<p2p.v1.TrackerClientCommand.$Properties>;
  endpoint: ActorRef<p2p.v1.TcpEndpointCommand.$Properties>;
  heartbeat: ActorRef<p2p.v1.HeartbeatCommand.$Properties>;
  observer: ActorRef<p2p.v1.ReplCommand.$Properties>;
  policy?: PiecePolicy;
}

/** How often the download looks at its peers and pieces again (and, in a small swarm, asks for the map). */
const REFRESH_MS = 1000;
/**
 * Progress after a verified piece goes to the REPL at most this often (the
 * refresh tick sends what is left). The REPL is on another thread: a report
 * per piece woke it a thousand times for a 256 MiB file.
 */
const PROGRESS_EVERY_MS = 200;
/** Pieces in flight from a peer before its speed is known. */
const INITIAL_PIECES_PER_PEER = 2;
/** At most this many pieces, and this many bytes, in flight from one peer. */
const MAX_PIECES_PER_PEER = 32;
const MAX_BYTES_PER_PEER = 8 * 1024 * 1024;
/** In flight over all peers at most: the memory this download may hold. */
const MAX_BYTES_IN_FLIGHT = 32 * 1024 * 1024;
/** Each peer gets about this many seconds of its own delivery rate. */
const QUEUE_SECONDS = 1.5;
/** Endgame: a second holder for a piece in flight this long (ms)... */
const DUPLICATE_AFTER_MS = 6000;
/** ...and no piece on more peers than this at once. */
const MAX_COPIES = 2;
/** A piece in flight with no answer is asked again after 10x its expected time, within these bounds. */
const PIECE_TIMEOUT_MIN_MS = 15_000;
const PIECE_TIMEOUT_MAX_MS = 120_000;
/** A peer that said it is busy with a piece is asked for it again after this long. */
const BUSY_RETRY_MS = 4000;
/** Peers this session keeps connections to. */
const MAX_CONNECTIONS = 32;
/** Corrupt pieces after which a peer is banned for this session. */
const BAN_AFTER_CORRUPT = 3;
/** Give up when no online peer has what is missing for this long. */
const STALL_LIMIT_MS = 30_000;
const ASK_TIMEOUT_MS = 10_000;
const OPEN_TIMEOUT_MS = 120_000;
const REDIAL_AFTER_MS = 3000;

interface PeerState {
  id: Uint8Array;
  ip: string;
  port: number;
  have: Bitfield;
  /** Pieces it announced in Have frames since the tracker's last map. */
  heard: Set<number>;
  connection?: ConnectionRef;
  dialing: boolean;
  lastDialFailure: number;
  /** Piece -> when it was asked of this peer. */
  inFlight: Map<number, number>;
  /** Delivery rate (bytes/s), a moving average; 0 until the first piece. */
  rate: number;
  lastDeliveryAt: number;
  corrupt: number;
  banned: boolean;
}

/** Whether a peer's map shows every piece (a map of no pieces, the file's size not known yet, does not). */
function holdsAll(have: Bitfield): boolean {
  return have.length > 0 && have.isComplete();
}

const cryptoRng: Rng = { nextInt: (bound) => randomInt(bound) };

export const DownloadSession = defineBehavior<Command, DownloadSessionProps>({
  name: 'peer.DownloadSession',
  inbox: p2p.v1.SessionCommand,
  create: (ctx, props) => new DownloadSessionActor(ctx, props),
});

class DownloadSessionActor {
  private readonly contentId: Buffer;
  private manifest?: ManifestData;
  private have?: Bitfield;
  private readonly peers = new Map<string, PeerState>();
  /**
   * The pieces we lack by how many peers hold each, kept between picks (as
   * pieces arrive and peers say Have); made again when the tracker's map changes.
   */
  private missing?: MissingByAvailability;
  /** Piece -> the peers fetching it now. */
  private readonly inFlight = new Map<number, Set<string>>();
  private bytesInFlight = 0;
  private readonly failedPairs = new Set<string>();
  /** "peer:piece" -> until when that peer said it is busy with that piece (a seed sending first copies). */
  private readonly busyPairs = new Map<string, number>();
  private refreshing = false;
  private lastProgressAt = 0;
  private progressUnreported = false;
  /** Refresh ticks left before the swarm map is asked for again (see ticksBetweenQueries). */
  private ticksUntilQuery = 0;
  private openingManifest = false;
  private reopening = false;
  /** The manifest as it came (what the store is given to open the download). */
  private manifestProps?: p2p.v1.Manifest.$Properties;
  private finished = false;
  private readonly startedAt = Date.now();
  private lastUsefulAt = Date.now();
  private bytesHave = 0;

  constructor(private readonly ctx: ActorContext<Command>, private readonly props: DownloadSessionProps) {
    this.contentId = Buffer.from(props.contentIdHex, 'hex');
  }

  started(): void {
    try {
      checkFileName(this.props.name); // the name the tracker lists: refused before any byte is fetched
    } catch (err) {
      this.finish(false, (err as Error).message, '');
      return;
    }
    this.ctx.every(REFRESH_MS, { refresh: {} });
    this.ctx.tell(this.ctx.self, { refresh: {} });
  }

  receive(m: Command): void {
    if (this.finished) return;
    switch (m.body) {
      case 'refresh': {
        if (this.progressUnreported) this.report('');
        void this.refresh();
        break;
      }
      case 'pieceVerified': this.onVerified(m.pieceVerified!.piece ?? 0, hex(m.pieceVerified!.peerId ?? new Uint8Array(0))); break;
      case 'pieceCorrupt': this.onCorrupt(m.pieceCorrupt!.piece ?? 0, hex(m.pieceCorrupt!.peerId ?? new Uint8Array(0))); break;
      case 'pieceAbandoned': {
        const a = m.pieceAbandoned!;
        this.onAbandoned(a.piece ?? 0, hex(a.peerId ?? new Uint8Array(0)), a.reason ?? '');
        break;
      }
      case 'downloadFinished': this.finish(true, '', m.downloadFinished!.path ?? ''); break;
      case 'downloadFailed': this.finish(false, m.downloadFailed!.reason ?? 'failed', ''); break;
      case 'peerHas': this.onPeerHas(hex(m.peerHas!.peerId ?? new Uint8Array(0)), m.peerHas!.piece ?? 0); break;
      case 'downloadLost': void this.reopen(); break;
      default: break;
    }
  }

  // ---- the swarm map ----

  private async refresh(): Promise<void> {
    if (this.refreshing) return;
    this.refreshing = true;
    try {
      if (--this.ticksUntilQuery <= 0) {
        const view = await this.ctx.ask(this.props.tracker, { query: { contentId: this.contentId } }, p2p.v1.SwarmView, ASK_TIMEOUT_MS);
        if (this.finished) return;
        if (view.error) {
          this.report(`tracker: ${view.error}`);
        } else {
          this.applyView(view);
          this.ticksUntilQuery = ticksBetweenQueries(view.files?.[0]?.holderCount ?? 0);
        }
      }
      if (!this.manifest) await this.obtainManifest();
      this.connectToHolders();
      this.askAgainForStuckPieces();
      this.fill();
      this.checkStall();
    } catch (err) {
      this.report((err as Error).message);
    } finally {
      this.refreshing = false;
    }
  }

  private applyView(view: p2p.v1.SwarmView.$Properties): void {
    const file = view.files?.[0];
    const pieceTotal = file?.pieceCount ?? this.have?.length ?? 0;
    const seen = new Set<string>();
    for (const p of view.peers ?? []) {
      const idHex = hex(p.peerId ?? new Uint8Array(0));
      let have: Bitfield;
      try {
        have = bitfieldFromBytes(pieceTotal, p.have ?? undefined, !!p.complete);
      } catch {
        continue; // a holder announced a bitfield of the wrong size: skip it
      }
      seen.add(idHex);
      const known = this.peers.get(idHex);
      if (known) {
        const hadAll = holdsAll(known.have);
        known.have = have;
        for (const i of known.heard) if (i < have.length) have.set(i);
        known.heard.clear();
        known.ip = p.ip ?? known.ip;
        known.port = p.port ?? known.port;
        if (!hadAll && holdsAll(have)) this.watch(known); // it has finished: no more Haves to it
      } else {
        this.peers.set(idHex, {
          id: p.peerId ?? new Uint8Array(0), ip: p.ip ?? '', port: p.port ?? 0, have, heard: new Set(), dialing: false,
          lastDialFailure: 0, inFlight: new Map(), rate: 0, lastDeliveryAt: 0, corrupt: 0, banned: false,
        });
      }
    }
    // A peer the tracker no longer lists keeps its slot only while connected.
    for (const [idHex, peer] of this.peers) {
      if (!seen.has(idHex) && !peer.connection && !peer.dialing) this.peers.delete(idHex);
    }
    this.missing = undefined;
  }

  /** Fetches the manifest from a random holder and checks it against the content id. */
  private async obtainManifest(): Promise<void> {
    if (this.openingManifest) return;
    // The tracker lists only holders of this file (even of an empty one).
    const holders = [...this.peers.values()].filter((p) => !p.banned);
    if (holders.length === 0) return;
    this.openingManifest = true;
    const peer = holders[randomInt(holders.length)]!;
    try {
      const connection = await this.connect(peer);
      if (!connection) return;
      const r = await this.ctx.ask(connection, { fetchManifest: { contentId: this.contentId } }, p2p.v1.ManifestResult, ASK_TIMEOUT_MS);
      if (!r.found || !r.manifest) return;
      const manifest: ManifestData = {
        name: r.manifest.name ?? '', size: r.manifest.size ?? 0, pieceSize: r.manifest.pieceSize ?? 0,
        pieceHashes: r.manifest.pieceHashes ?? [],
      };
      let id: Uint8Array | undefined;
      try {
        id = computeContentId(manifest);
      } catch {
        id = undefined; // fields no real manifest has: it cannot match
      }
      if (!id || !Buffer.from(id).equals(this.contentId)) {
        this.ban(peer, 'sent a manifest that does not match the content id');
        return;
      }
      // It is the file's true manifest: if it is unusable (an unsafe name, say),
      // every holder would send the same one, so the download ends here.
      try {
        validateManifest(manifest);
      } catch (err) {
        this.finish(false, (err as Error).message, '');
        return;
      }
      this.manifestProps = r.manifest;
      await this.open(manifest);
    } catch (err) {
      this.report(`manifest from ${peer.ip}:${peer.port}: ${(err as Error).message}`);
    } finally {
      this.openingManifest = false;
    }
  }

  /** Has the store open NAME.part (or resume it) and takes the pieces it already holds. */
  private async open(manifest: ManifestData): Promise<void> {
    const opened = await this.ctx.ask(this.props.store, { openDownload: { contentId: this.contentId, manifest: this.manifestProps } },
      p2p.v1.DownloadOpened, OPEN_TIMEOUT_MS);
    if (opened.error) {
      this.finish(false, opened.error, '');
      return;
    }
    this.manifest = manifest;
    this.have = bitfieldFromBytes(manifest.pieceHashes.length, opened.have ?? undefined, !!opened.complete);
    this.missing = undefined;
    this.bytesHave = this.have.missing().length === 0 ? manifest.size : this.countBytes();
    if (opened.complete) {
      this.finish(true, '', opened.path ?? '');
    } else {
      // Announce now, not at the next beat: the others see us in the swarm map within a second
      // and connect, so our first pieces travel on at once.
      this.ctx.tell(this.props.heartbeat, { announceNow: {} });
      this.report('');
    }
  }

  /**
   * The store restarted and lost this download: open it again (it re-reads
   * what NAME.part holds) and fetch anew every piece that was in flight,
   * since the store may have dropped it.
   */
  private async reopen(): Promise<void> {
    if (this.reopening || !this.manifest || this.finished) return;
    this.reopening = true;
    try {
      for (const [piece, holders] of [...this.inFlight]) {
        for (const peerId of [...holders]) {
          const c = this.peers.get(peerId)?.connection;
          if (c) this.ctx.tell(c, { cancelPiece: { contentId: this.contentId, piece } });
          this.release(piece, peerId);
        }
      }
      this.report('the piece store restarted; resuming from what is on disk');
      await this.open(this.manifest);
      this.fill();
    } catch (err) {
      this.report(`reopening after a store restart: ${(err as Error).message}`);
    } finally {
      this.reopening = false;
    }
  }

  private countBytes(): number {
    let bytes = 0;
    for (let i = 0; i < this.have!.length; i++) if (this.have!.has(i)) bytes += pieceLength(this.manifest!, i);
    return bytes;
  }

  // ---- connections ----

  private async connect(peer: PeerState): Promise<ConnectionRef | undefined> {
    if (peer.connection) return peer.connection;
    if (peer.dialing || Date.now() - peer.lastDialFailure < REDIAL_AFTER_MS) return undefined;
    peer.dialing = true;
    try {
      const r = await this.ctx.ask(this.props.endpoint, { dial: { peerId: peer.id, ip: peer.ip, port: peer.port } }, p2p.v1.DialResult, ASK_TIMEOUT_MS);
      if (r.error || !r.connection) throw new Error(r.error || 'no connection');
      peer.connection = r.connection as ConnectionRef;
      this.watch(peer);
      return peer.connection;
    } catch (err) {
      peer.lastDialFailure = Date.now();
      this.report(`${peer.ip}:${peer.port}: ${(err as Error).message}`);
      return undefined;
    } finally {
      peer.dialing = false;
    }
  }

  /** Has the peer's connection send us its Have frames for this file, and say whether it holds all of it. */
  private watch(peer: PeerState): void {
    if (!peer.connection) return;
    this.ctx.tell(peer.connection, { watch: { contentId: this.contentId, session: this.ctx.self, remoteHasAll: holdsAll(peer.have) } });
  }

  /** Opens connections to holders of pieces we lack, up to the limit. */
  private connectToHolders(): void {
    if (!this.have) return;
    let open = [...this.peers.values()].filter((p) => p.connection || p.dialing).length;
    // Holders of something we lack first; then the others too: their Have frames tell us the
    // moment they get a piece, where the swarm map would tell us only at the next announce.
    const candidates = [...this.peers.values()].filter((p) => !p.connection && !p.dialing && !p.banned);
    const useful = new Set(candidates.filter((p) => this.hasSomethingWeLack(p)));
    candidates.sort((a, b) => Number(useful.has(b)) - Number(useful.has(a)));
    for (const peer of candidates) {
      if (open >= MAX_CONNECTIONS) break;
      open++;
      void this.connect(peer).then((c) => { if (c) this.fill(); });
    }
  }

  private hasSomethingWeLack(peer: PeerState): boolean {
    for (const i of this.have!.missing()) if (peer.have.has(i)) return true;
    return false;
  }

  // ---- picking ----

  /** Pieces this peer may have in flight now: about QUEUE_SECONDS of its rate. */
  private slotsOf(peer: PeerState): number {
    const pieceSize = this.manifest!.pieceSize;
    const byBytes = Math.max(1, Math.floor(MAX_BYTES_PER_PEER / pieceSize));
    const wanted = peer.rate > 0 ? Math.ceil((peer.rate * QUEUE_SECONDS) / pieceSize) : INITIAL_PIECES_PER_PEER;
    return Math.max(1, Math.min(wanted, MAX_PIECES_PER_PEER, byBytes));
  }

  private usable(peer: PeerState | undefined): peer is PeerState & { connection: ConnectionRef } {
    return !!peer && !!peer.connection && !peer.banned;
  }

  /** Fills every free request slot: rarest missing piece, random holder; then the endgame. */
  private fill(): void {
    if (!this.have || !this.manifest || this.finished) return;
    const views: PeerView[] = [];
    for (const [peerId, p] of this.peers) views.push({ peerId, have: p.have });
    const missing = this.props.policy === 'sequential' ? undefined
      : (this.missing ??= new MissingByAvailability(availability(this.have.length, views), this.have));
    const inFlight = new Set(this.inFlight.keys());
    const roomFor = (peer: PeerState) => peer.inFlight.size < this.slotsOf(peer) && this.bytesInFlight < MAX_BYTES_IN_FLIGHT;
    for (;;) {
      const pick = pickPiece({
        have: this.have,
        inFlight,
        peers: views,
        missing,
        canTake: (id) => { const p = this.peers.get(id); return this.usable(p) && roomFor(p); },
        exclude: this.failedPairs.size === 0 && this.busyPairs.size === 0 ? undefined : (id, piece) => this.excluded(id, piece),
      }, cryptoRng, this.props.policy ?? 'rarest');
      if (!pick) break;
      inFlight.add(pick.piece);
      this.request(pick.piece, pick.peerId);
    }
    this.fillEndgame(roomFor);
  }

  private fillEndgame(roomFor: (peer: PeerState) => boolean): void {
    if (this.inFlight.size === 0) return;
    // Most calls find every peer's slots full: nothing to pick, nothing to build.
    let room = false;
    for (const peer of this.peers.values()) if (this.usable(peer) && roomFor(peer)) room = true;
    if (!room) return;
    const lacking = this.have!.length - this.have!.count();
    const everythingAsked = this.inFlight.size >= lacking;
    const now = Date.now();
    const flights: PieceInFlight[] = [];
    for (const [piece, holders] of this.inFlight) {
      let since = Infinity;
      for (const id of holders) since = Math.min(since, this.peers.get(id)?.inFlight.get(piece) ?? now);
      flights.push({ piece, holders: holders.size, since });
    }
    for (const [peerId, peer] of this.peers) {
      if (!this.usable(peer)) continue;
      while (roomFor(peer)) {
        const piece = pickDuplicate(flights, (i) => peer.have.has(i) && !peer.inFlight.has(i) && !this.excluded(peerId, i),
          now, everythingAsked ? 0 : DUPLICATE_AFTER_MS, MAX_COPIES);
        if (piece === undefined) break;
        flights.find((f) => f.piece === piece)!.holders++;
        this.request(piece, peerId);
      }
    }
  }

  private excluded(peerId: string, piece: number): boolean {
    const key = `${peerId}:${piece}`;
    if (this.failedPairs.has(key)) return true;
    const until = this.busyPairs.get(key);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    this.busyPairs.delete(key);
    return false;
  }

  private request(piece: number, peerId: string): void {
    const peer = this.peers.get(peerId)!;
    const holders = this.inFlight.get(piece) ?? new Set<string>();
    holders.add(peerId);
    this.inFlight.set(piece, holders);
    peer.inFlight.set(piece, Date.now());
    this.bytesInFlight += pieceLength(this.manifest!, piece);
    this.ctx.tell(peer.connection!, {
      fetchPiece: {
        contentId: this.contentId, piece, length: pieceLength(this.manifest!, piece),
        session: this.ctx.self, store: this.props.store,
      },
    });
  }

  /** This peer no longer fetches this piece. */
  private release(piece: number, peerId: string): void {
    const holders = this.inFlight.get(piece);
    if (!holders?.delete(peerId)) return;
    if (holders.size === 0) this.inFlight.delete(piece);
    this.peers.get(peerId)?.inFlight.delete(piece);
    this.bytesInFlight -= pieceLength(this.manifest!, piece);
  }

  private onVerified(piece: number, fromHex: string): void {
    if (!this.have || this.have.has(piece)) return;
    const from = this.peers.get(fromHex);
    const now = Date.now();
    if (from?.inFlight.has(piece)) {
      // Pieces from one peer arrive one after another: the time since the
      // later of its request and the last delivery is this piece's share.
      const took = Math.max(1, now - Math.max(from.inFlight.get(piece)!, from.lastDeliveryAt));
      const sample = (pieceLength(this.manifest!, piece) * 1000) / took;
      from.rate = from.rate === 0 ? sample : 0.7 * from.rate + 0.3 * sample;
      from.lastDeliveryAt = now;
    }
    for (const peerId of [...(this.inFlight.get(piece) ?? [])]) {
      const peer = this.peers.get(peerId);
      if (peerId !== fromHex && peer?.connection) this.ctx.tell(peer.connection, { cancelPiece: { contentId: this.contentId, piece } });
      this.release(piece, peerId);
    }
    this.have.set(piece);
    this.missing?.remove(piece);
    this.bytesHave += pieceLength(this.manifest!, piece);
    this.lastUsefulAt = now;
    this.ctx.tell(this.props.endpoint, { broadcastHave: { contentId: this.contentId, piece } });
    this.reportProgress(now);
    this.fill();
  }

  private onCorrupt(piece: number, peerId: string): void {
    this.release(piece, peerId);
    this.failedPairs.add(`${peerId}:${piece}`);
    const peer = this.peers.get(peerId);
    if (peer && ++peer.corrupt >= BAN_AFTER_CORRUPT) this.ban(peer, `${peer.corrupt} pieces failed their hash`);
    else this.report(`piece ${piece} from ${peer ? `${peer.ip}:${peer.port}` : 'a peer'} failed its hash; fetching it again`);
    this.fill();
  }

  private onAbandoned(piece: number, peerId: string, reason: string): void {
    this.release(piece, peerId);
    const peer = this.peers.get(peerId);
    if (peer && /closed|stopped/.test(reason)) {
      peer.connection = undefined;
      for (const p of [...peer.inFlight.keys()]) this.release(p, peerId);
    } else if (peer && reason.startsWith(`refused: ${BUSY_REASON}`)) {
      this.busyPairs.set(`${peerId}:${piece}`, Date.now() + BUSY_RETRY_MS);
    } else if (peer && reason) {
      this.failedPairs.add(`${peerId}:${piece}`);
    }
    this.fill();
  }

  /** A piece asked long ago with no answer (lost in a crash, say) is asked again. */
  private askAgainForStuckPieces(): void {
    if (!this.manifest) return;
    const now = Date.now();
    for (const [peerId, peer] of this.peers) {
      // Ten times what the peer's own rate says a piece takes (with everything it has queued), within bounds.
      const expectedMs = peer.rate > 0 ? ((peer.inFlight.size * this.manifest!.pieceSize) / peer.rate) * 1000 : PIECE_TIMEOUT_MAX_MS;
      const timeoutMs = Math.min(PIECE_TIMEOUT_MAX_MS, Math.max(PIECE_TIMEOUT_MIN_MS, 10 * expectedMs));
      for (const [piece, since] of [...peer.inFlight]) {
        if (now - since < timeoutMs) continue;
        if (peer.connection) this.ctx.tell(peer.connection, { cancelPiece: { contentId: this.contentId, piece } });
        this.release(piece, peerId);
      }
    }
  }

  private onPeerHas(peerId: string, piece: number): void {
    const peer = this.peers.get(peerId);
    if (!peer || !this.have || piece >= peer.have.length || peer.have.has(piece)) return;
    peer.have.set(piece);
    peer.heard.add(piece);
    this.missing?.holderAdded(piece);
    if (!this.have.has(piece) && !this.inFlight.has(piece)) this.fill();
  }

  private ban(peer: PeerState, why: string): void {
    peer.banned = true;
    for (const p of [...peer.inFlight.keys()]) this.release(p, hex(peer.id));
    if (peer.connection) this.ctx.tell(peer.connection, { close: {} });
    peer.connection = undefined;
    this.report(`banned ${peer.ip}:${peer.port} for this download: ${why}`);
  }

  private checkStall(): void {
    const idle = Date.now() - this.lastUsefulAt;
    if (this.inFlight.size > 0 || idle < STALL_LIMIT_MS) return;
    if (!this.manifest) {
      const online = [...this.peers.values()].filter((p) => !p.banned).length;
      this.finish(false, online === 0 ? 'no peer online holds this file' : 'could not get the file\'s manifest from any holder', '');
      return;
    }
    const missing = this.have!.missing();
    const unheld = missing.filter((i) => ![...this.peers.values()].some((p) => !p.banned && p.have.has(i)));
    if (unheld.length > 0) {
      this.finish(false, `${unheld.length} missing piece(s) are held by no peer online (first: ${unheld[0]})`, '');
    }
  }

  // ---- reporting ----

  /** Reports the pieces we have, unless a report went out less than PROGRESS_EVERY_MS ago. */
  private reportProgress(now: number): void {
    this.progressUnreported = now - this.lastProgressAt < PROGRESS_EVERY_MS;
    if (!this.progressUnreported) this.report('');
  }

  private report(note: string): void {
    this.lastProgressAt = Date.now();
    this.progressUnreported = false;
    const m = this.manifest;
    this.ctx.tell(this.props.observer, {
      progress: {
        contentId: this.contentId, name: m?.name ?? this.props.name, piecesHave: this.have?.count() ?? 0,
        pieceCount: this.have?.length ?? 0, bytesHave: this.bytesHave, size: m?.size ?? 0,
        peers: [...this.peers.values()].filter((p) => p.connection).length, note,
      },
    });
  }

  private finish(ok: boolean, reason: string, path: string): void {
    if (this.finished) return;
    this.finished = true;
    if (ok) this.ctx.tell(this.props.heartbeat, { announceNow: {} });
    this.ctx.tell(this.props.observer, {
      done: {
        contentId: this.contentId, name: this.manifest?.name ?? this.props.name, ok, reason, path,
        seconds: (Date.now() - this.startedAt) / 1000,
      },
    });
    this.ctx.stop();
  }
}

/**
 * Refresh ticks between two swarm-map queries: every tick up to 200 holders,
 * one tick more per 200 beyond (at most 10). A large swarm's map changes
 * little from one second to the next for any one peer, and thousands of peers
 * asking every second would be the tracker's heaviest load.
 */
export function ticksBetweenQueries(holders: number): number {
  return Math.min(10, Math.max(1, Math.ceil(holders / 200)));
}
