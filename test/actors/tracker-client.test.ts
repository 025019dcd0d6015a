// The peer's tracker client through the runtime (a real worker thread, real
// UDP on 127.0.0.1), against a bare tracker socket that counts what it gets.
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import * as dgram from 'node:dgram';
import * as path from 'node:path';
import { p2p } from '../../src/gen/proto';
import { ActorSystem } from '../../src/runtime';
import type { TrackerClientProps } from '../../src/actors/peer/tracker-client';

describe('tracker client', function () {
  this.timeout(20_000);

  it('fetches one connection token at start and shares it: a burst of queries costs one connect', async () => {
    const tracker = dgram.createSocket('udp4');
    const received: string[] = [];
    tracker.on('message', (bytes, from) => {
      const packet = p2p.v1.TrackerPacket.decode(bytes);
      received.push(String(packet.body));
      const reply = (body: p2p.v1.TrackerPacket.$Properties) =>
        tracker.send(p2p.v1.TrackerPacket.encode({ ...body, transactionId: packet.transactionId }).finish(), from.port, from.address);
      if (packet.body === 'connectRequest') {
        // Answered late, so that queries asked meanwhile find the fetch under way.
        setTimeout(() => reply({ connectResponse: { connectionToken: Buffer.from('token'), tokenTtlMs: 60_000 } }), 100);
      } else if (packet.body === 'swarmQuery') {
        assert.equal(Buffer.from(packet.swarmQuery!.connectionToken ?? []).toString(), 'token');
        reply({ swarmMap: { files: [{ name: 'f.bin' }], pageCount: 1 } });
      }
    });
    await new Promise<void>((resolve) => tracker.bind(0, '127.0.0.1', resolve));
    const system = await ActorSystem.start({
      hosts: ['net'], protocolModule: path.join(__dirname, '..', '..', 'src', 'gen', 'proto.js'),
      catalogModules: [path.join(__dirname, '..', '..', 'src', 'actors', 'peer', 'index.js')], log: () => undefined,
    });
    try {
      const client = system.spawn<p2p.v1.TrackerClientCommand.$Properties, TrackerClientProps>('peer.TrackerClient', {
        trackerHost: '127.0.0.1', trackerPort: tracker.address().port, peerIdHex: randomBytes(16).toString('hex'), peerKeyHex: randomBytes(32).toString('hex'),
      }, { host: 'net' });
      const views = await Promise.all(Array.from({ length: 5 }, () =>
        system.ask(client, { query: { contentId: new Uint8Array(0) } }, p2p.v1.SwarmView, 10_000)));
      for (const view of views) assert.deepEqual(view.files?.map((f) => f.name), ['f.bin']);
      assert.deepEqual(received, ['connectRequest', ...Array(5).fill('swarmQuery')]);
    } finally {
      await system.shutdown();
      tracker.close();
    }
  });
});
