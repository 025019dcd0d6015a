// The peer's TCP endpoint: it listens for other peers and dials them, and
// gives every socket to a PeerConnection actor of its own on this host.
// Outgoing connections are kept and shared: one per remote peer address, used
// by every download session that needs that peer.
//
// Accepts TcpEndpointCommand: Dial (ask -> DialResult), GetAddress (ask ->
// EndpointAddress), ConnectionClosed (from a connection that ended),
// BroadcastHave (a Have frame to every connected peer), GetTransferStats (ask
// -> TransferStats).
import * as net from 'node:net';
import { p2p } from '../../gen/proto';
import { defineBehavior, type ActorContext, type ActorRef, type Delivery } from '../../runtime';
import type { ConnectionResources, PeerConnectionProps } from './peer-connection';
import { SocketReader } from './socket-reader';
import type { PiecePolicy } from '../../core/picker';
import { Traffic } from './traffic';

type Command = p2p.v1.TcpEndpointCommand.$Properties;
type ConnectionRef = ActorRef<p2p.v1.ConnectionCommand.$Properties>;

export interface TcpEndpointProps {
  bindHost: string;
  port: number;
  peerIdHex: string;
  store: ActorRef<p2p.v1.StoreCommand.$Properties>;
  /** Limits of this peer in bytes per second, over all connections (0 = none). */
  maxUpBytesPerSec: number;
  maxDownBytesPerSec?: number;
  /** Under `rarest` (the default), an original seed sends first copies first (see Traffic). */
  policy?: PiecePolicy;
}

const DIAL_TIMEOUT_MS = 5000;

export const TcpEndpoint = defineBehavior<Command, TcpEndpointProps>({
  name: 'peer.TcpEndpoint',
  inbox: p2p.v1.TcpEndpointCommand,
  supervision: { kind: 'stop' }, // owns the listening socket: a restart could not rebind the same port reliably
  create: (ctx, props) => new TcpEndpointActor(ctx, props),
});

class TcpEndpointActor {
  private server?: net.Server;
  private readonly outgoing = new Map<string, Promise<ConnectionRef>>();
  /** Every live connection, inbound and outbound, by key. */
  private readonly connections = new Map<string, ConnectionRef>();
  private inboundCount = 0;
  private listenError = '';
  /** One for every connection: the limits are the peer's, not a socket's. */
  private readonly traffic: Traffic;

  constructor(private readonly ctx: ActorContext<Command>, private readonly props: TcpEndpointProps) {
    this.traffic = new Traffic(props.maxUpBytesPerSec || Infinity, props.maxDownBytesPerSec || Infinity, Date.now,
      (props.policy ?? 'rarest') === 'rarest');
  }

  async started(): Promise<void> {
    const server = net.createServer((socket) => this.adopt(socket, `in:${++this.inboundCount}`));
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(this.props.port, this.props.bindHost, () => { server.off('error', reject); resolve(); });
      });
    } catch (err) {
      this.listenError = `cannot listen for peers on tcp://${this.props.bindHost}:${this.props.port}: ${(err as Error).message}`;
      return;
    }
    server.on('error', (err) => this.ctx.log(`listener error: ${err.message}`));
    this.server = server;
  }

  stopped(): void {
    this.server?.close();
    this.traffic.close();
  }

  receive(m: Command, d: Delivery): void {
    switch (m.body) {
      case 'getAddress': {
        const a = this.server?.address();
        d.reply(p2p.v1.EndpointAddress, typeof a === 'object' && a ? { ip: a.address, port: a.port } : { error: this.listenError });
        break;
      }
      case 'dial': {
        const ip = m.dial!.ip ?? '';
        const port = m.dial!.port ?? 0;
        this.dial(ip, port).then(
          (connection) => d.reply(p2p.v1.DialResult, { connection }),
          (err) => d.reply(p2p.v1.DialResult, { error: `cannot connect to ${ip}:${port}: ${(err as Error).message}` }));
        break;
      }
      case 'connectionClosed': {
        const key = m.connectionClosed!.key ?? '';
        this.outgoing.delete(key);
        this.connections.delete(key);
        break;
      }
      case 'broadcastHave': {
        const { contentId, piece } = m.broadcastHave!;
        for (const c of this.connections.values()) this.ctx.tell(c, { sendHave: { contentId, piece } });
        break;
      }
      case 'getTransferStats':
        d.reply(p2p.v1.TransferStats, { ...this.traffic.stats(), connections: this.connections.size });
        break;
      default: d.fail(`unsupported endpoint command ${String(m.body)}`);
    }
  }

  private dial(ip: string, port: number): Promise<ConnectionRef> {
    const key = `out:${ip}:${port}`;
    let connection = this.outgoing.get(key);
    if (!connection) {
      connection = new Promise<ConnectionRef>((resolve, reject) => {
        const reader = new SocketReader();
        const socket: net.Socket = net.connect({
          host: ip, port, onread: reader.options(() => socket.destroy(new Error('too much data before the connection started'))),
        });
        const timer = setTimeout(() => socket.destroy(new Error(`no answer within ${DIAL_TIMEOUT_MS} ms`)), DIAL_TIMEOUT_MS);
        socket.once('connect', () => { clearTimeout(timer); socket.removeAllListeners('error'); resolve(this.adopt(socket, key, reader)); });
        socket.once('error', (err) => { clearTimeout(timer); reject(err); });
      });
      this.outgoing.set(key, connection);
      connection.catch(() => this.outgoing.delete(key));
    }
    return connection;
  }

  private adopt(socket: net.Socket, key: string, reader?: SocketReader): ConnectionRef {
    const props: PeerConnectionProps = { peerIdHex: this.props.peerIdHex, store: this.props.store, endpoint: this.ctx.self, key };
    const resource: ConnectionResources = { socket, traffic: this.traffic, reader };
    const connection = this.ctx.spawn<p2p.v1.ConnectionCommand.$Properties, PeerConnectionProps>('peer.PeerConnection', props, { resource });
    this.connections.set(key, connection);
    return connection;
  }
}
