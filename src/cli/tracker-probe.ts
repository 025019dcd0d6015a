// A bare UDP client of the tracker protocol, one request and one reply at a
// time: the lab watches the swarm with it, and tests speak raw packets with it.
import * as dgram from 'node:dgram';
import { p2p } from '../gen/proto';

type Packet = p2p.v1.TrackerPacket.$Properties;

export class TrackerProbe {
  private readonly socket = dgram.createSocket('udp4');
  private nextId = 1;
  private readonly waiting = new Map<number, (p: p2p.v1.TrackerPacket) => void>();
  private readonly ready: Promise<void>;

  constructor(readonly host: string, readonly port: number) {
    this.socket.on('message', (bytes) => {
      const p = p2p.v1.TrackerPacket.decode(bytes);
      this.waiting.get(p.transactionId ?? 0)?.(p);
    });
    this.ready = new Promise((resolve) => this.socket.bind(0, '127.0.0.1', () => resolve()));
  }

  async request(body: Packet, timeoutMs = 2000): Promise<p2p.v1.TrackerPacket> {
    await this.ready;
    const transactionId = this.nextId++;
    const bytes = p2p.v1.TrackerPacket.encode({ ...body, transactionId }).finish();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => { this.waiting.delete(transactionId); reject(new Error('no reply from the tracker')); }, timeoutMs);
      this.waiting.set(transactionId, (p) => { clearTimeout(t); this.waiting.delete(transactionId); resolve(p); });
      this.socket.send(bytes, this.port, this.host);
    });
  }

  /** Sends raw bytes; resolves with the reply bytes, or undefined after waitMs. */
  async sendRaw(bytes: Uint8Array, waitMs = 300): Promise<Buffer | undefined> {
    await this.ready;
    return new Promise((resolve) => {
      const onMessage = (reply: Buffer) => { clearTimeout(t); this.socket.off('message', onMessage); resolve(reply); };
      const t = setTimeout(() => { this.socket.off('message', onMessage); resolve(undefined); }, waitMs);
      this.socket.on('message', onMessage);
      this.socket.send(bytes, this.port, this.host);
    });
  }

  /** Sends bytes without waiting for anything (a load generator's send). */
  sendOnly(bytes: Uint8Array): void {
    void this.ready.then(() => this.socket.send(bytes, this.port, this.host));
  }

  /** Calls `onReply` for every datagram that arrives; returns a function that stops it. */
  onAnyReply(onReply: (bytes: Buffer) => void): () => void {
    this.socket.on('message', onReply);
    return () => this.socket.off('message', onReply);
  }

  async token(): Promise<Uint8Array> {
    const r = await this.request({ connectRequest: { protocolVersion: 1 } });
    return r.connectResponse!.connectionToken!;
  }

  /** Every page of a swarm query, merged; also returns each page's datagram size. */
  async swarm(contentId: Uint8Array, peerId: Uint8Array = new Uint8Array(16)): Promise<{ peers: p2p.v1.SwarmPeer.$Properties[]; files: p2p.v1.SwarmFile.$Properties[]; pageBytes: number[] }> {
    const connectionToken = await this.token();
    const peers: p2p.v1.SwarmPeer.$Properties[] = [];
    const files: p2p.v1.SwarmFile.$Properties[] = [];
    const pageBytes: number[] = [];
    for (let page = 0, count = 1; page < count; page++) {
      const r = await this.request({ swarmQuery: { connectionToken, peerId, contentId, page } });
      if (!r.swarmMap) throw new Error(`unexpected reply ${r.body}: ${r.error?.message}`);
      pageBytes.push(p2p.v1.TrackerPacket.encode(r).finish().length);
      peers.push(...(r.swarmMap.peers ?? []));
      if (page === 0 || contentId.length === 0) files.push(...(r.swarmMap.files ?? []));
      count = r.swarmMap.pageCount ?? 1;
    }
    return { peers, files, pageBytes };
  }

  close(): void {
    this.socket.close();
  }
}
