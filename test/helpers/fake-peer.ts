// A hostile peer for tests, on a raw socket: it registers at the tracker like
// any peer and speaks the peer protocol, but may serve corrupt blocks, or
// offer files with names no downloader should accept.
import * as net from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { p2p } from '../../src/gen/proto';
import { FrameDecoder, delimit } from '../../src/core/frame-codec';
import { Bitfield } from '../../src/core/bitfield';
import { contentId, pieceCount, type ManifestData } from '../../src/core/manifest';
import { RawTrackerClient } from './tracker-client';

export interface FakeFile {
  name: string;
  data: Buffer;
  pieceSize: number;
}

export class FakePeer {
  readonly peerId = randomBytes(16);
  private readonly key = randomBytes(32);
  private readonly server = net.createServer((s) => this.serve(s));
  private readonly files = new Map<string, { manifest: ManifestData; data: Buffer; id: Uint8Array }>();
  private readonly sockets = new Set<net.Socket>();
  private timer?: NodeJS.Timeout;
  private tracker?: RawTrackerClient;
  port = 0;
  blocksServed = 0;
  connections = 0;
  /** Have frames received, per piece. */
  readonly havesReceived: number[] = [];

  /**
   * @param corrupt which pieces it serves with a flipped byte
   * @param lacksLast it tells the tracker it lacks each file's last piece (and never serves it)
   */
  constructor(files: FakeFile[], private readonly corrupt: (piece: number) => boolean = () => false, private readonly lacksLast = false) {
    for (const f of files) {
      const hashes: Uint8Array[] = [];
      for (let at = 0; at < f.data.length; at += f.pieceSize) hashes.push(createHash('sha256').update(f.data.subarray(at, at + f.pieceSize)).digest());
      const manifest: ManifestData = { name: f.name, size: f.data.length, pieceSize: f.pieceSize, pieceHashes: hashes };
      const id = contentId(manifest);
      this.files.set(Buffer.from(id).toString('hex'), { manifest, data: f.data, id });
    }
  }

  async start(trackerPort: number): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', () => resolve()));
    this.port = (this.server.address() as net.AddressInfo).port;
    this.tracker = new RawTrackerClient('127.0.0.1', trackerPort);
    await this.announce();
    this.timer = setInterval(() => void this.announce().catch(() => undefined), 1000);
  }

  private async announce(): Promise<void> {
    const connectionToken = await this.tracker!.token();
    const files = [...this.files.values()].map(({ manifest, id }) => {
      const count = pieceCount(manifest.size, manifest.pieceSize);
      const have = new Bitfield(count);
      for (let i = 0; i < count - 1; i++) have.set(i);
      return {
        contentId: id, name: manifest.name, size: manifest.size, pieceSize: manifest.pieceSize, pieceCount: count,
        ...(this.lacksLast ? { complete: false, have: have.toBytes() } : { complete: true }),
      };
    });
    await this.tracker!.request({ announceRequest: { connectionToken, peerId: this.peerId, peerKey: this.key, ip: '127.0.0.1', port: this.port, files } });
  }

  private serve(socket: net.Socket): void {
    this.connections++;
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    const send = (frame: p2p.v1.PeerFrame.$Properties) => socket.write(delimit(p2p.v1.PeerFrame.encode(frame).finish()));
    send({ hello: { protocolVersion: 1, peerId: this.peerId } });
    const decoder = new FrameDecoder(1 << 21);
    socket.on('data', (chunk) => {
      for (const bytes of decoder.push(chunk)) {
        const frame = p2p.v1.PeerFrame.decode(bytes);
        const idHex = Buffer.from(frame.manifestRequest?.contentId ?? frame.blockRequest?.contentId ?? []).toString('hex');
        const file = this.files.get(idHex);
        if (frame.have) this.havesReceived.push(frame.have.piece ?? 0);
        if (frame.manifestRequest) {
          send({ manifestResponse: file ? { contentId: file.id, manifest: file.manifest } : { contentId: frame.manifestRequest.contentId } });
        } else if (frame.blockRequest && file) {
          const r = frame.blockRequest;
          if (this.lacksLast && (r.piece ?? 0) === file.manifest.pieceHashes.length - 1) {
            send({ blockRejected: { contentId: file.id, piece: r.piece, offset: r.offset, length: r.length, reason: 'not held here' } });
            continue;
          }
          const start = (r.piece ?? 0) * file.manifest.pieceSize + (r.offset ?? 0);
          const data = Buffer.from(file.data.subarray(start, start + (r.length ?? 0)));
          if (this.corrupt(r.piece ?? 0)) data[0] ^= 0xff;
          this.blocksServed++;
          send({ block: { contentId: file.id, piece: r.piece, offset: r.offset, data } });
        }
      }
    });
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    for (const s of this.sockets) s.destroy();
    this.tracker?.close();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
