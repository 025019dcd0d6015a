// The tracker topology through the runtime (real worker threads, a real UDP
// socket on 127.0.0.1), spoken to by a bare UDP client.
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { p2p } from '../../src/gen/proto';
import { startTracker, type RunningTracker } from '../../src/actors/tracker/topology';
import fc from 'fast-check';
import * as path from 'node:path';
import { RawTrackerClient } from '../helpers/tracker-client';
import { ActorSystem } from '../../src/runtime';
import type { TrackerClientProps } from '../../src/actors/peer/tracker-client';
import { holdersPerPage } from '../../src/actors/tracker/registry';

const Code = p2p.v1.TrackerErrorCode;
const fileId = Buffer.alloc(32, 0xab);
const holding = (over: Partial<p2p.v1.FileHolding.$Properties> = {}): p2p.v1.FileHolding.$Properties => ({
  contentId: fileId, name: 'big.bin', size: 4 * 262_144, pieceSize: 262_144, pieceCount: 4, have: Uint8Array.of(0b1100_0000), ...over,
});

async function until(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('tracker topology', function () {
  this.timeout(30_000);
  let tracker: RunningTracker;
  let client: RawTrackerClient;
  const events: p2p.v1.TrackerEvent.$Properties[] = [];

  before(async () => {
    tracker = await startTracker({ host: '127.0.0.1', port: 0, announceIntervalMs: 150, onEvent: (e) => events.push(e), log: () => undefined });
    client = new RawTrackerClient('127.0.0.1', tracker.port);
  });
  after(async () => {
    client?.close();
    await tracker?.stop();
  });

  const peer = () => ({ peerId: randomBytes(16), peerKey: randomBytes(32) });
  const announce = async (p: { peerId: Uint8Array; peerKey: Uint8Array }, files = [holding()], token?: Uint8Array) =>
    client.request({ announceRequest: { connectionToken: token ?? await client.token(), ...p, ip: '127.0.0.1', port: 7000, files } });

  it('refuses requests without a valid connection token, changing nothing', async () => {
    const p = peer();
    const r = await announce(p, [holding()], Buffer.alloc(16));
    assert.equal(r.error?.code, Code.TRACKER_ERROR_CODE_BAD_TOKEN);
    const none = await client.request({ swarmQuery: { contentId: fileId } });
    assert.equal(none.error?.code, Code.TRACKER_ERROR_CODE_BAD_TOKEN);
    assert.ok(!(await client.swarm(fileId)).peers.some((x) => Buffer.from(x.peerId!).equals(p.peerId)));
  });

  it('lists an announced peer, with its bitfield, to others', async () => {
    const p = peer();
    const r = await announce(p);
    assert.equal(r.body, 'announceResponse');
    const view = await client.swarm(fileId);
    const listed = view.peers.find((x) => Buffer.from(x.peerId!).equals(p.peerId));
    assert.ok(listed);
    assert.deepEqual([...listed.have!], [0b1100_0000]);
    assert.equal(view.files[0]?.name, 'big.bin');
    const catalog = await client.swarm(new Uint8Array(0));
    assert.ok(catalog.files.some((f) => f.name === 'big.bin'));
    await until(async () => events.some((e) => e.peerJoined && Buffer.from(e.peerJoined.peerId!).equals(p.peerId)));
  });

  it('does not let anyone else update or remove a peer\'s entry', async () => {
    const owner = peer();
    await announce(owner);
    const thief = { peerId: owner.peerId, peerKey: randomBytes(32) };
    const hijack = await announce(thief, []);
    assert.equal(hijack.error?.code, Code.TRACKER_ERROR_CODE_NOT_OWNER);
    const leave = await client.request({ leaveRequest: { connectionToken: await client.token(), ...thief } });
    assert.equal(leave.error?.code, Code.TRACKER_ERROR_CODE_NOT_OWNER);
    assert.ok((await client.swarm(fileId)).peers.some((x) => Buffer.from(x.peerId!).equals(owner.peerId)));
    const ok = await client.request({ leaveRequest: { connectionToken: await client.token(), ...owner } });
    assert.equal(ok.leaveResponse?.wasRegistered, true);
    assert.ok(!(await client.swarm(fileId)).peers.some((x) => Buffer.from(x.peerId!).equals(owner.peerId)));
  });

  it('drops a peer silent for three intervals', async () => {
    const p = peer();
    await announce(p);
    await until(async () => !(await client.swarm(fileId)).peers.some((x) => Buffer.from(x.peerId!).equals(p.peerId)), 5000);
    assert.ok(events.some((e) => e.peerLeft?.reason === 'expired' && Buffer.from(e.peerLeft.peerId!).equals(p.peerId)));
  });

  it('survives random, truncated and empty datagrams, and keeps answering', async () => {
    const good = p2p.v1.TrackerPacket.encode({ transactionId: 5, connectRequest: { protocolVersion: 1 } }).finish();
    const junk = [new Uint8Array(0), good.subarray(0, 2), randomBytes(1), randomBytes(64), randomBytes(1400), Buffer.alloc(9000, 0xff)];
    for (let i = 0; i < 200; i++) junk.push(randomBytes(1 + (i * 37) % 500));
    for (const bytes of junk) {
      const reply = await client.sendRaw(bytes, 5);
      if (reply) assert.ok(reply.length <= Math.max(bytes.length, 64), 'no amplified replies to junk');
    }
    await new Promise((r) => setTimeout(r, 100));
    assert.equal((await client.token()).length, 16);
  });

  it('answers no random or mutated datagram with a crash or an amplified reply (property)', async () => {
    const good = p2p.v1.TrackerPacket.encode({ transactionId: 9, announceRequest: { connectionToken: await client.token(), ...peer(), ip: '127.0.0.1', port: 7000, files: [holding()] } }).finish();
    const fuzzer = new RawTrackerClient('127.0.0.1', tracker.port);
    try {
      await fc.assert(fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 2000 }),
          fc.array(fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }).map((edits) => {
            const copy = Buffer.from(good);
            for (const [i, v] of edits) copy[i] = v;
            return copy;
          }),
        ),
        async (bytes) => {
          const reply = await fuzzer.sendRaw(bytes, 3);
          if (reply && bytes.length > 0) assert.ok(reply.length <= Math.max(bytes.length, 64), 'no amplified replies');
        }), { numRuns: 150 });
    } finally {
      fuzzer.close();
    }
    assert.equal((await client.token()).length, 16, 'still answering');
  });

  it('drops a source that floods it, unanswered, while answering everyone else', async () => {
    const flooder = new RawTrackerClient('127.0.0.1', tracker.port);
    const other = new RawTrackerClient('127.0.0.1', tracker.port);
    try {
      let replies = 0;
      const packet = p2p.v1.TrackerPacket.encode({ transactionId: 1, connectRequest: { protocolVersion: 1 } }).finish();
      const counted = flooder.onAnyReply(() => replies++);
      const flood = (async () => {
        for (let i = 0; i < 3000; i++) {
          flooder.sendOnly(packet);
          if (i % 100 === 0) await new Promise((r) => setImmediate(r));
        }
      })();
      // Meanwhile another source asks, and is answered every time (retrying a
      // lost datagram after 500 ms, as the peers' tracker client does).
      const tokenWithRetry = async () => {
        for (let attempt = 0; ; attempt++) {
          try {
            return (await other.request({ connectRequest: { protocolVersion: 1 } }, 500)).connectResponse!.connectionToken!;
          } catch (err) {
            if (attempt >= 2) throw err;
          }
        }
      };
      for (let i = 0; i < 20; i++) assert.equal((await tokenWithRetry()).length, 16);
      await flood;
      await new Promise((r) => setTimeout(r, 300));
      counted();
      assert.ok(replies < 1500, `the flooder got ${replies} replies to 3000 packets`);
      assert.ok(replies >= 100, 'it is limited, not banned');
    } finally {
      flooder.close();
      other.close();
    }
  });

  it('pages a map of 1,000 peers of a 10,000-piece file under the datagram limit; a peer samples three of its pages', async () => {
    // A tracker of its own, with an interval long enough that nobody expires meanwhile.
    const big = await startTracker({ host: '127.0.0.1', port: 0, announceIntervalMs: 60_000, log: () => undefined });
    const client = new RawTrackerClient('127.0.0.1', big.port);
    try {
      await pageLargeSwarm(client);
      // A peer's own tracker client asks for page 0 and two more at random, not all 24.
      const system = await ActorSystem.start({
        hosts: ['net'], protocolModule: path.join(__dirname, '..', '..', 'src', 'gen', 'proto.js'),
        catalogModules: [path.join(__dirname, '..', '..', 'src', 'actors', 'peer', 'index.js')], log: () => undefined,
      });
      try {
        const trackerClient = system.spawn<p2p.v1.TrackerClientCommand.$Properties, TrackerClientProps>('peer.TrackerClient', {
          trackerHost: '127.0.0.1', trackerPort: big.port, peerIdHex: randomBytes(16).toString('hex'), peerKeyHex: randomBytes(32).toString('hex'),
        }, { host: 'net' });
        const view = await system.ask(trackerClient, { query: { contentId: Buffer.alloc(32, 0xcd) } }, p2p.v1.SwarmView, 10_000);
        const perPage = holdersPerPage(10_000);
        assert.equal(view.files?.[0]?.holderCount, 1000);
        assert.ok((view.peers ?? []).length > perPage, 'more than page 0');
        assert.ok((view.peers ?? []).length <= 3 * perPage, `${view.peers?.length} holders: at most three pages`);
      } finally {
        await system.shutdown();
      }
    } finally {
      client.close();
      await big.stop();
    }
  });

  async function pageLargeSwarm(client: RawTrackerClient): Promise<void> {
    const bigId = Buffer.alloc(32, 0xcd);
    const pieces = 10_000;
    const have = randomBytes(pieces / 8);
    const ids: Buffer[] = [];
    // A few hundred peers per source socket: each source has a packet budget.
    for (let batch = 0; batch < 4; batch++) {
      const source = new RawTrackerClient('127.0.0.1', client.port);
      try {
        const token = await source.token();
        for (let i = 0; i < 250; i++) {
          const p = peer();
          ids.push(p.peerId);
          const files = [{ contentId: bigId, name: 'huge.iso', size: pieces * 16384, pieceSize: 16384, pieceCount: pieces, have }];
          const r = await source.request({ announceRequest: { connectionToken: token, ...p, ip: '127.0.0.1', port: 7000, files } });
          assert.equal(r.body, 'announceResponse', r.error?.message ?? '');
        }
      } finally {
        source.close();
      }
    }
    const view = await client.swarm(bigId);
    assert.ok(view.pageBytes.length > 1, 'more than one page');
    for (const size of view.pageBytes) assert.ok(size <= 65_507, `a page of ${size} bytes`);
    const seen = new Set(view.peers.map((p) => Buffer.from(p.peerId!).toString('hex')));
    for (const id of ids) assert.ok(seen.has(id.toString('hex')));
  }
});
