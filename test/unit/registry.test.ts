// The tracker's registry: ownership by secret key, expiry, catalog, paging.
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { SwarmRegistry, type FileHoldingData } from '../../src/core/registry';
import { paginate } from '../../src/core/paging';

const id = (n: number) => Buffer.alloc(16, n);
const key = (n: number) => Buffer.alloc(32, n);
const file = (over: Partial<FileHoldingData> = {}): FileHoldingData => ({
  contentId: Buffer.alloc(32, 1), name: 'a.txt', size: 600_000, pieceSize: 262_144, pieceCount: 3,
  have: Uint8Array.of(0b1010_0000), complete: false, ...over,
});
const announce = (r: SwarmRegistry, n: number, now = 0, files = [file()], k = key(n)) =>
  r.announce({ peerId: id(n), peerKey: k, ip: '127.0.0.1', port: 6000 + n, files }, now);

describe('swarm registry', () => {
  it('lists holders and their bitfields, leaving out the asker', () => {
    const r = new SwarmRegistry({ announceIntervalMs: 3000 });
    assert.deepEqual(announce(r, 1), { ok: true, isNew: true });
    assert.deepEqual(announce(r, 2, 0, [file({ complete: true, have: new Uint8Array(0) })]), { ok: true, isNew: true });
    const holders = r.holders(Buffer.alloc(32, 1), id(2));
    assert.equal(holders.length, 1);
    assert.deepEqual([...holders[0]!.have], [0b1010_0000]);
    assert.deepEqual(r.catalog().map((f) => [f.name, f.holderCount, f.seedCount]), [['a.txt', 2, 1]]);
  });

  it('refuses an announce or a leave for a peer id with the wrong key, and changes nothing', () => {
    const r = new SwarmRegistry({ announceIntervalMs: 3000 });
    announce(r, 1);
    const hijack = announce(r, 1, 10, [], key(99));
    assert.equal(hijack.ok, false);
    assert.equal(!hijack.ok && hijack.code, 'NOT_OWNER');
    const leave = r.leave(id(1), key(99));
    assert.equal(!leave.ok && leave.code, 'NOT_OWNER');
    assert.equal(r.holders(Buffer.alloc(32, 1)).length, 1);
    assert.deepEqual(r.leave(id(1), key(1)), { ok: true, wasRegistered: true });
    assert.equal(r.peerCount, 0);
    assert.deepEqual(r.catalog(), [], 'a file nobody holds leaves the catalog');
  });

  it('drops a peer silent for three intervals, not before', () => {
    const r = new SwarmRegistry({ announceIntervalMs: 3000 });
    announce(r, 1, 0);
    announce(r, 2, 5000);
    assert.deepEqual(r.expire(8999), []);
    assert.deepEqual(r.expire(9000).map((p) => Buffer.from(p)), [id(1)]);
    assert.ok(r.hasPeer(id(2)));
  });

  it('refuses holdings inconsistent with their size or with the catalog', () => {
    const r = new SwarmRegistry({ announceIntervalMs: 3000 });
    assert.equal(announce(r, 1, 0, [file({ pieceCount: 4 })]).ok, false);
    assert.equal(announce(r, 1, 0, [file({ have: Uint8Array.of(1, 2) })]).ok, false);
    assert.equal(announce(r, 1, 0, [file({ contentId: Buffer.alloc(5) })]).ok, false);
    announce(r, 1);
    assert.equal(announce(r, 2, 0, [file({ size: 700_000 })]).ok, false);
    assert.equal(r.announce({ peerId: id(3), peerKey: key(3), ip: '', port: 1, files: [] }, 0).ok, false);
    assert.equal(r.announce({ peerId: id(3), peerKey: key(3), ip: 'h', port: 0, files: [] }, 0).ok, false);
  });

  it('replaces a peer\'s holdings on each announce', () => {
    const r = new SwarmRegistry({ announceIntervalMs: 3000 });
    announce(r, 1);
    announce(r, 1, 1, [file({ contentId: Buffer.alloc(32, 2), name: 'b.txt' })]);
    assert.deepEqual(r.catalog().map((f) => f.name), ['b.txt']);
  });
});

describe('paging', () => {
  it('keeps every page under the budget and loses no item', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: 500 })), fc.integer({ min: 500, max: 5000 }), (sizes, budget) => {
      const pages = paginate(sizes, (s) => s, budget);
      assert.ok(pages.length >= 1);
      assert.deepEqual(pages.flat(), sizes);
      for (const p of pages) assert.ok(p.reduce((a, b) => a + b, 0) <= budget);
    }));
  });
});
