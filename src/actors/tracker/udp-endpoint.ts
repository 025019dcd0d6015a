// The tracker's UDP endpoint: one socket, one p2p.v1.TrackerPacket per
// datagram. It hands out connection tokens itself (BEP 15: an HMAC of the
// source address, so no state is kept per client), checks the token on every
// other request, and asks the registry for the answer. Requests are answered
// concurrently; a datagram that does not decode gets a small error reply, or
// none when the reply would be larger than the request (no amplification).
// Each source address has a packet budget (SourceLimiter): a flooding source
// is dropped, unanswered, while everyone else is served as usual.
//
// Accepts UdpEndpointCommand: Close.
// Sends RegistryCommand asks; TrackerEvent (Listening, Problem) to the console.
import * as dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { p2p } from '../../gen/proto';
import { defineBehavior, type ActorContext, type ActorRef } from '../../runtime';
import { ConnectTokens } from '../../core/connect-token';
import { SourceLimiter } from '../../core/source-limiter';

type Command = p2p.v1.UdpEndpointCommand.$Properties;
type Packet = p2p.v1.TrackerPacket.$Properties;

export interface UdpEndpointProps {
  host: string;
  port: number;
  registry: ActorRef<p2p.v1.RegistryCommand.$Properties>;
  console?: ActorRef<p2p.v1.TrackerEvent.$Properties>;
  announceIntervalMs: number;
}

/** The largest payload of a UDP datagram over IPv4. */
export const MAX_DATAGRAM_BYTES = 65_507;
export const PROTOCOL_VERSION = 1;
const REGISTRY_TIMEOUT_MS = 2000;
const RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024;
/** How often dropped floods are reported in the log. */
const FLOOD_REPORT_MS = 10_000;
const Code = p2p.v1.TrackerErrorCode;

export const UdpEndpoint = defineBehavior<Command, UdpEndpointProps>({
  name: 'tracker.UdpEndpoint',
  inbox: p2p.v1.UdpEndpointCommand,
  supervision: { kind: 'stop' }, // owns the bound socket
  create: (ctx, props) => new UdpEndpointActor(ctx, props),
});

class UdpEndpointActor {
  private socket?: dgram.Socket;
  private readonly tokens = new ConnectTokens(randomBytes(32));
  private readonly limiter = new SourceLimiter();

  constructor(private readonly ctx: ActorContext<Command>, private readonly props: UdpEndpointProps) {}

  async started(): Promise<void> {
    const socket = dgram.createSocket({ type: this.props.host.includes(':') ? 'udp6' : 'udp4' });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(this.props.port, this.props.host, () => { socket.off('error', reject); resolve(); });
      });
    } catch (err) {
      socket.close();
      this.tellConsole({ problem: { message: `cannot listen on udp://${this.props.host}:${this.props.port}: ${(err as Error).message}` } });
      this.ctx.stop();
      return;
    }
    socket.on('error', (err) => this.ctx.log(`socket error: ${err.message}`));
    try {
      socket.setRecvBufferSize(RECEIVE_BUFFER_BYTES); // room for bursts (the kernel may cap it)
    } catch {
      // keep the system's default
    }
    socket.on('message', (bytes, from) => {
      if (this.limiter.allow(`${from.address}:${from.port}`, Date.now())) this.onDatagram(bytes, from);
    });
    this.socket = socket;
    this.ctx.every(FLOOD_REPORT_MS, { reportFloods: {} });
    const a = socket.address();
    this.tellConsole({ listening: { ip: a.address, port: a.port } });
  }

  stopped(): void {
    this.socket?.close();
    this.socket = undefined;
  }

  receive(m: Command): void {
    switch (m.body) {
      case 'close': this.ctx.stop(); break;
      case 'reportFloods':
        for (const [source, count] of this.limiter.drainRefused()) this.ctx.log(`dropped ${count} packet(s) from ${source}: over its rate limit`);
        break;
      default: break;
    }
  }

  private tellConsole(e: p2p.v1.TrackerEvent.$Properties): void {
    if (this.props.console) this.ctx.tell(this.props.console, e);
  }

  private onDatagram(bytes: Buffer, from: dgram.RemoteInfo): void {
    let packet: p2p.v1.TrackerPacket;
    try {
      if (bytes.length > MAX_DATAGRAM_BYTES) throw new Error('datagram too large');
      packet = p2p.v1.TrackerPacket.decode(bytes);
      if (this.ctx.tracer.on) this.traceDatagram('in', bytes, from, senderOf(packet));
    } catch (err) {
      if (this.ctx.tracer.on) this.traceDatagram('in', bytes.subarray(0, 1024), from);
      this.send({ error: { code: Code.TRACKER_ERROR_CODE_MALFORMED, message: 'malformed packet' } }, from, bytes.length);
      return;
    }
    const transactionId = packet.transactionId ?? 0;
    const reply = (p: Packet, limit?: number) => this.send({ ...p, transactionId }, from, limit);
    const now = Date.now();
    if (packet.body === 'connectRequest') {
      if ((packet.connectRequest!.protocolVersion ?? 0) !== PROTOCOL_VERSION) {
        reply({ error: { code: Code.TRACKER_ERROR_CODE_UNSUPPORTED_VERSION, message: `protocol version ${PROTOCOL_VERSION} only` } });
        return;
      }
      reply({
        connectResponse: {
          connectionToken: this.tokens.issue(from.address, from.port, now), tokenTtlMs: this.tokens.ttlMs,
          announceIntervalMs: this.props.announceIntervalMs,
        },
      });
      return;
    }
    let command: p2p.v1.RegistryCommand.$Properties;
    let token: Uint8Array | null | undefined;
    switch (packet.body) {
      case 'announceRequest':
        token = packet.announceRequest!.connectionToken;
        command = { announce: { request: packet.announceRequest, sourceIp: from.address, sourcePort: from.port } };
        break;
      case 'swarmQuery':
        token = packet.swarmQuery!.connectionToken;
        command = { query: { request: packet.swarmQuery } };
        break;
      case 'leaveRequest':
        token = packet.leaveRequest!.connectionToken;
        command = { leave: { request: packet.leaveRequest } };
        break;
      default:
        reply({ error: { code: Code.TRACKER_ERROR_CODE_MALFORMED, message: 'not a request' } }, bytes.length);
        return;
    }
    if (!this.tokens.verify(token, from.address, from.port, now)) {
      reply({ error: { code: Code.TRACKER_ERROR_CODE_BAD_TOKEN, message: 'bad token, connect again' } }, bytes.length);
      return;
    }
    this.ctx.ask(this.props.registry, command, p2p.v1.RegistryReply, REGISTRY_TIMEOUT_MS).then(
      (r) => reply(r.packet ?? { error: { message: 'no answer' } }),
      (err: Error) => this.ctx.log(`registry did not answer: ${err.message}`),
    );
  }

  /** Sends a reply; with `limit`, only if it is no larger (no amplification). */
  private send(packet: Packet, to: dgram.RemoteInfo, limit?: number): void {
    const bytes = p2p.v1.TrackerPacket.encode(packet).finish();
    if (limit !== undefined && bytes.length > limit) return;
    if (bytes.length > MAX_DATAGRAM_BYTES) {
      this.ctx.log(`dropping a ${bytes.length}-byte reply: over the datagram limit`);
      return;
    }
    if (this.ctx.tracer.on) this.traceDatagram('out', bytes, to);
    this.socket?.send(bytes, to.port, to.address);
  }

  private traceDatagram(direction: 'in' | 'out', bytes: Uint8Array, remote: dgram.RemoteInfo, peerId?: Uint8Array | null): void {
    const a = this.socket?.address();
    this.ctx.tracer.wire({
      transport: 'udp', direction, local: a ? `${a.address}:${a.port}` : '', remote: `${remote.address}:${remote.port}`,
      messageType: 'p2p.v1.TrackerPacket', message: bytes, wireBytes: bytes.length, actor: this.ctx.self.id,
      remotePeerId: peerId ?? undefined,
    });
  }
}

/** The peer id a request names, if any. */
function senderOf(p: p2p.v1.TrackerPacket): Uint8Array | null | undefined {
  return p.announceRequest?.peerId ?? p.swarmQuery?.peerId ?? p.leaveRequest?.peerId;
}
