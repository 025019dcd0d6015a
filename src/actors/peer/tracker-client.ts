// The peer's side of the UDP tracker protocol: one socket, request/response
// matched by transaction id, retries with a growing timeout, and the BEP 15
// connection token fetched (and fetched again when the tracker rejects it,
// e.g. after a tracker restart) before any other request.
//
// Accepts TrackerClientCommand: AnnounceHoldings (tell), QuerySwarm (ask ->
// SwarmView: the pages merged, all of them or a sample of a large map), LeaveSwarm (ask -> LeaveResult).
import * as dgram from 'node:dgram';
import { randomInt } from 'node:crypto';
import { p2p } from '../../gen/proto';
import { defineBehavior, type ActorContext, type Delivery } from '../../runtime';

type Command = p2p.v1.TrackerClientCommand.$Properties;
type Packet = p2p.v1.TrackerPacket.$Properties;

export interface TrackerClientProps {
  trackerHost: string;
  trackerPort: number;
  peerIdHex: string;
  peerKeyHex: string;
}

const PROTOCOL_VERSION = 1;
/** Timeouts of the successive tries of one request (BEP 15 doubles them too). */
const TRY_TIMEOUTS_MS = [500, 1000, 2000];
/** A catalog has at most this many pages we will follow. */
const MAX_PAGES = 1000;
/** A file's swarm map of up to this many pages is fetched whole... */
const WHOLE_MAP_PAGES = 4;
/**
 * ...a larger one in part: page 0 and this many other pages, at random, each
 * time. A download keeps at most 32 connections and their Have frames tell it
 * the rest, so a swarm of thousands costs the tracker a few datagrams per peer
 * per refresh instead of the whole map.
 */
const SAMPLED_PAGES = 2;
const ErrorCode = p2p.v1.TrackerErrorCode;

export class TrackerRequestError extends Error {
  override readonly name = 'TrackerRequestError';
  constructor(message: string, readonly code: number = 0) {
    super(message);
  }
}

export const TrackerClient = defineBehavior<Command, TrackerClientProps>({
  name: 'peer.TrackerClient',
  inbox: p2p.v1.TrackerClientCommand,
  supervision: { kind: 'restart', maxRestarts: 10, withinMs: 60_000, minBackoffMs: 100, maxBackoffMs: 5_000 },
  create: (ctx, props) => new TrackerClientActor(ctx, props),
});

class TrackerClientActor {
  private socket?: dgram.Socket;
  private token?: { bytes: Uint8Array; expiresAt: number };
  private tokenFetch?: Promise<Uint8Array>;
  private readonly pending = new Map<number, (packet: p2p.v1.TrackerPacket) => void>();
  private readonly peerId: Buffer;
  private readonly peerKey: Buffer;
  private reachable = true;
  /** The announce under way, which a leave must not overtake. */
  private announcing: Promise<void> = Promise.resolve();
  /** After a leave, nothing more is announced. */
  private left = false;

  constructor(private readonly ctx: ActorContext<Command>, private readonly props: TrackerClientProps) {
    this.peerId = Buffer.from(props.peerIdHex, 'hex');
    this.peerKey = Buffer.from(props.peerKeyHex, 'hex');
  }

  async started(): Promise<void> {
    const socket = dgram.createSocket(this.props.trackerHost.includes(':') ? 'udp6' : 'udp4');
    socket.on('message', (bytes, from) => this.onDatagram(bytes, from));
    socket.on('error', (err) => this.ctx.log(`tracker socket error: ${err.message}`));
    await new Promise<void>((resolve) => socket.bind(0, resolve));
    this.socket = socket;
    // Fetched now, the token is there when the first announce or query comes: one round trip each, not two.
    this.connectionToken().catch(() => undefined);
  }

  stopped(): void {
    this.socket?.close();
    this.socket = undefined;
  }

  receive(m: Command, d: Delivery): void {
    switch (m.body) {
      case 'announce':
        if (!this.left) this.announcing = this.announcing.then(() => this.announce(m.announce!));
        break;
      case 'query':
        this.query(m.query!.contentId ?? new Uint8Array(0)).then(
          (view) => d.reply(p2p.v1.SwarmView, view),
          (err) => d.reply(p2p.v1.SwarmView, { error: (err as Error).message }));
        break;
      case 'leave':
        this.leave().then(
          () => d.reply(p2p.v1.LeaveResult, { ok: true }),
          (err) => d.reply(p2p.v1.LeaveResult, { ok: false, error: (err as Error).message }));
        break;
      default: d.fail(`unsupported tracker client command ${String(m.body)}`);
    }
  }

  private onDatagram(bytes: Buffer, from: dgram.RemoteInfo): void {
    if (this.ctx.tracer.on) this.traceDatagram('in', bytes, `${from.address}:${from.port}`);
    let packet: p2p.v1.TrackerPacket;
    try {
      packet = p2p.v1.TrackerPacket.decode(bytes);
    } catch {
      return; // not ours or damaged: the request will time out and be retried
    }
    const resolve = this.pending.get(packet.transactionId ?? 0);
    if (resolve) {
      this.pending.delete(packet.transactionId!);
      resolve(packet);
    }
  }

  /** Sends one request, retrying on silence; resolves with the reply packet. */
  private async request(body: Packet): Promise<p2p.v1.TrackerPacket> {
    const socket = this.socket;
    if (!socket) throw new TrackerRequestError('the tracker client is not running');
    for (const timeoutMs of TRY_TIMEOUTS_MS) {
      const transactionId = randomInt(1, 0xffffffff);
      const bytes = p2p.v1.TrackerPacket.encode({ ...body, transactionId }).finish();
      const reply = await new Promise<p2p.v1.TrackerPacket | undefined>((resolve) => {
        const timer = setTimeout(() => { this.pending.delete(transactionId); resolve(undefined); }, timeoutMs);
        this.pending.set(transactionId, (p) => { clearTimeout(timer); resolve(p); });
        if (this.ctx.tracer.on) this.traceDatagram('out', bytes, `${this.props.trackerHost}:${this.props.trackerPort}`);
        socket.send(bytes, this.props.trackerPort, this.props.trackerHost, (err) => {
          if (err) { clearTimeout(timer); this.pending.delete(transactionId); resolve(undefined); }
        });
      });
      if (reply) {
        this.noteReachable(true);
        if (reply.body === 'error') throw new TrackerRequestError(reply.error?.message || 'tracker error', reply.error?.code ?? 0);
        return reply;
      }
    }
    this.noteReachable(false);
    throw new TrackerRequestError(`no answer from the tracker at ${this.props.trackerHost}:${this.props.trackerPort}`);
  }

  private traceDatagram(direction: 'in' | 'out', bytes: Uint8Array, remote: string): void {
    const a = this.socket?.address();
    this.ctx.tracer.wire({
      transport: 'udp', direction, local: a ? `${a.address}:${a.port}` : '', remote,
      messageType: 'p2p.v1.TrackerPacket', message: bytes, wireBytes: bytes.length, actor: this.ctx.self.id,
    });
  }

  private noteReachable(ok: boolean): void {
    if (ok !== this.reachable) this.ctx.log(ok ? 'the tracker answers again' : 'the tracker does not answer; retrying');
    this.reachable = ok;
  }

  /** A token that is still good, or the one being fetched: requests meanwhile share one fetch. */
  private connectionToken(): Promise<Uint8Array> {
    if (this.token && this.token.expiresAt > Date.now()) return Promise.resolve(this.token.bytes);
    this.tokenFetch ??= this.fetchToken().finally(() => { this.tokenFetch = undefined; });
    return this.tokenFetch;
  }

  private async fetchToken(): Promise<Uint8Array> {
    const reply = await this.request({ connectRequest: { protocolVersion: PROTOCOL_VERSION } });
    const r = reply.connectResponse;
    if (!r?.connectionToken?.length) throw new TrackerRequestError('the tracker sent no connection token');
    // Renew a little before the tracker stops accepting it.
    this.token = { bytes: r.connectionToken, expiresAt: Date.now() + Math.max(1000, (r.tokenTtlMs ?? 60_000) - 5000) };
    return this.token.bytes;
  }

  /** Runs a request that needs a token; fetches a new token once if refused. */
  private async withToken(build: (token: Uint8Array) => Packet): Promise<p2p.v1.TrackerPacket> {
    try {
      return await this.request(build(await this.connectionToken()));
    } catch (err) {
      if (!(err instanceof TrackerRequestError) || err.code !== ErrorCode.TRACKER_ERROR_CODE_BAD_TOKEN) throw err;
      this.token = undefined;
      return this.request(build(await this.connectionToken()));
    }
  }

  private async announce(a: p2p.v1.AnnounceHoldings.$Properties): Promise<void> {
    try {
      await this.withToken((connectionToken) => ({
        announceRequest: { connectionToken, peerId: this.peerId, peerKey: this.peerKey, ip: a.ip, port: a.port, files: a.files },
      }));
    } catch (err) {
      if (this.reachable) this.ctx.log(`announce refused: ${(err as Error).message}`);
    }
  }

  private async query(contentId: Uint8Array): Promise<p2p.v1.SwarmView.$Properties> {
    const files: p2p.v1.SwarmFile.$Properties[] = [];
    const peers: p2p.v1.SwarmPeer.$Properties[] = [];
    const fetch = async (page: number): Promise<number> => {
      const reply = await this.withToken((connectionToken) => ({
        swarmQuery: { connectionToken, peerId: this.peerId, contentId, page },
      }));
      const map = reply.swarmMap;
      if (!map) throw new TrackerRequestError('the tracker answered a swarm query with something else');
      if (page === 0 || !contentId.length) files.push(...(map.files ?? []));
      peers.push(...(map.peers ?? []));
      return map.pageCount ?? 1;
    };
    const pageCount = await fetch(0);
    for (const page of pagesToFetch(pageCount, contentId.length === 0)) await fetch(page);
    return { files, peers };
  }

  private async leave(): Promise<void> {
    this.left = true;
    await this.announcing;
    await this.withToken((connectionToken) => ({
      leaveRequest: { connectionToken, peerId: this.peerId, peerKey: this.peerKey },
    }));
  }
}

/** The pages after page 0 to ask for: all of a catalog or a small map, a random few of a large map. */
export function pagesToFetch(pageCount: number, catalog: boolean): number[] {
  const rest = Math.min(pageCount, MAX_PAGES) - 1;
  if (rest <= 0) return [];
  if (catalog || pageCount <= WHOLE_MAP_PAGES) return Array.from({ length: rest }, (_, i) => i + 1);
  const chosen = new Set<number>();
  while (chosen.size < Math.min(SAMPLED_PAGES, rest)) chosen.add(1 + randomInt(rest));
  return [...chosen];
}
