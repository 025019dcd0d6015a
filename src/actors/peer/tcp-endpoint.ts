// The peer's TCP endpoint: it listens for other peers and dials them, and
// gives every socket to a PeerConnection actor of its own on this host.
// Outgoing connections are kept and shared: one per remote peer address, used
// by every download session that needs that peer.
//
// Accepts TcpEndpointCommand: Dial (ask -> DialResult), GetAddress (ask ->
// EndpointAddress), ConnectionClosed (from a connection that ended).
import * as net from 'node:net';
import { p2p } from '../../gen/proto';
import { defineBehavior, type ActorContext, type ActorRef, type Delivery } from '../../runtime';
import type { ConnectionResources, PeerConnectionProps } from './peer-connection';
import { TokenBucket } from '../../core/rate';

type Command = p2p.v1.TcpEndpointCommand.$Properties;
type ConnectionRef = ActorRef<p2p.v1.ConnectionCommand.$Properties>;

export interface TcpEndpointProps {
  bindHost: string;
  port: number;
  peerIdHex: string;
  store: ActorRef<p2p.v1.StoreCommand.$Properties>;
  /** Upload limit of this peer in bytes per second, over all connections (0 = none). */
  maxUpBytesPerSec: number;
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
  private inboundCount = 0;
  private listenError = '';
  /** One bucket for every connection: the limit is the peer's, not a socket's. */
  private readonly upload?: TokenBucket;

  constructor(private readonly ctx: ActorContext<Command>, private readonly props: TcpEndpointProps) {
    const rate = props.maxUpBytesPerSec;
    if (rate > 0 && Number.isFinite(rate)) this.upload = new TokenBucket(rate, Math.min(rate, 64 * 1024), Date.now());
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
      case 'connectionClosed': this.outgoing.delete(m.connectionClosed!.key ?? ''); break;
      default: d.fail(`unsupported endpoint command ${String(m.body)}`);
    }
  }

  private dial(ip: string, port: number): Promise<ConnectionRef> {
    const key = `out:${ip}:${port}`;
    let connection = this.outgoing.get(key);
    if (!connection) {
      connection = new Promise<ConnectionRef>((resolve, reject) => {
        const socket = net.connect({ host: ip, port });
        const timer = setTimeout(() => socket.destroy(new Error(`no answer within ${DIAL_TIMEOUT_MS} ms`)), DIAL_TIMEOUT_MS);
        socket.once('connect', () => { clearTimeout(timer); socket.removeAllListeners('error'); resolve(this.adopt(socket, key)); });
        socket.once('error', (err) => { clearTimeout(timer); reject(err); });
      });
      this.outgoing.set(key, connection);
      connection.catch(() => this.outgoing.delete(key));
    }
    return connection;
  }

  private adopt(socket: net.Socket, key: string): ConnectionRef {
    const props: PeerConnectionProps = { peerIdHex: this.props.peerIdHex, store: this.props.store, endpoint: this.ctx.self, key };
    const resource: ConnectionResources = { socket, upload: this.upload };
    return this.ctx.spawn<p2p.v1.ConnectionCommand.$Properties, PeerConnectionProps>('peer.PeerConnection', props, { resource });
  }
}
