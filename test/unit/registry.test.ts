// The tracker's registry: ownership by secret key, expiry, catalog, paging.
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { SwarmRegistry, MAX_PIECE_COUNT, type FileHoldingData } from '../../src/core/registry';
import { pageCountOf } from '../../src/core/paging';
import { WORST_FILE_BYTES, holdersPerPage } from '../../src/actors/tracker/registry';
import { MAX_DATAGRAM_BYTES } from '../../src/actors/tracker/udp-endpoint';
import { p2p } from '../../src/gen/proto';
import { hex } from '../../src/core/hex';
import { pagesToFetch } from '../../src/actors/peer/tracker-client';
import { ticksBetweenQueries } from '../../src/actors/peer/download-session';

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
  it('a full page of the largest possible entries fits in one datagram, for any piece count', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: MAX_PIECE_COUNT }), (pieceCount) => {
      const worstPeer = {
        peerId: new Uint8Array(16), ip: '~'.repeat(64), port: 65535, have: new Uint8Array(Math.ceil(pieceCount / 8)).fill(0xff), complete: true,
      };
      const worstFile = {
        contentId: new Uint8Array(32), name: '\u0800'.repeat(255), size: Number.MAX_SAFE_INTEGER, pieceSize: 0xffff_ffff,
        pieceCount: 0xffff_ffff, holderCount: 0xffff_ffff, seedCount: 0xffff_ffff,
      };
      const bytes = p2p.v1.TrackerPacket.encode({
        transactionId: 0xffff_ffff,
        swarmMap: {
          contentId: new Uint8Array(32), files: [worstFile], page: 0xffff_ffff, pageCount: 0xffff_ffff,
          peers: new Array(holdersPerPage(pieceCount)).fill(worstPeer),
        },
      }).finish();
      assert.ok(bytes.length <= MAX_DATAGRAM_BYTES, `${pieceCount} pieces: ${bytes.length} bytes`);
      assert.ok(WORST_FILE_BYTES > 255 * 3);
    }), { numRuns: 200 });
  });

  it('refuses a file whose bitfield could not fit a page', () => {
    const r = new SwarmRegistry({ announceIntervalMs: 3000 });
    const pieceSize = 1024;
    const pieceCount = MAX_PIECE_COUNT + 1;
    const result = announce(r, 1, 0, [file({ size: pieceCount * pieceSize, pieceSize, pieceCount, have: new Uint8Array(0) })]);
    assert.equal(!result.ok && result.code, 'INVALID');
    assert.match(!result.ok ? result.message : '', /more than 400000 pieces/);
  });

  it('pages cover every holder once, and counts follow joins, leaves and seeds, through any sequence of announces', () => {
    const op = fc.record({ peer: fc.integer({ min: 1, max: 30 }), kind: fc.constantFrom('holds', 'seeds', 'other file', 'leave') });
    fc.assert(fc.property(fc.array(op, { maxLength: 200 }), fc.integer({ min: 1, max: 7 }), (ops, perPage) => {
      const r = new SwarmRegistry({ announceIntervalMs: 3000 });
      const model = new Map<number, 'holds' | 'seeds' | 'other file'>();
      for (const o of ops) {
        if (o.kind === 'leave') {
          r.leave(id(o.peer), key(o.peer));
          model.delete(o.peer);
          continue;
        }
        const f = o.kind === 'other file' ? file({ contentId: Buffer.alloc(32, 2), name: 'b.txt' })
          : file({ complete: o.kind === 'seeds', have: o.kind === 'seeds' ? new Uint8Array(0) : Uint8Array.of(0x80) });
        assert.ok(announce(r, o.peer, 0, [f]).ok);
        model.set(o.peer, o.kind);
      }
      const cid = Buffer.alloc(32, 1);
      const holders = [...model].filter(([, k]) => k !== 'other file');
      const info = r.fileInfo(cid);
      assert.equal(info?.holderCount ?? 0, holders.length);
      assert.equal(info?.seedCount ?? 0, holders.filter(([, k]) => k === 'seeds').length);
      const seen: string[] = [];
      for (let page = 0; page < pageCountOf(r.holderCount(cid), perPage); page++) {
        const slice = r.holders(cid, undefined, page * perPage, (page + 1) * perPage);
        assert.ok(slice.length <= perPage);
        seen.push(...slice.map((p) => hex(p.peerId)));
      }
      assert.deepEqual(seen.sort(), holders.map(([n]) => hex(id(n))).sort());
    }));
  });

  it('a holder keeps its place in the pages when it announces again', () => {
    const r = new SwarmRegistry({ announceIntervalMs: 3000 });
    for (let n = 1; n <= 5; n++) announce(r, n);
    const order = () => r.holders(Buffer.alloc(32, 1)).map((p) => p.peerId[0]);
    const before = order();
    announce(r, 1, 100, [file({ have: Uint8Array.of(0xe0) })]);
    assert.deepEqual(order(), before);
    assert.deepEqual([...r.holders(Buffer.alloc(32, 1), undefined, 0, 1)[0]!.have], [0xe0]);
  });
});

describe('pages a peer asks for', () => {
  it('all of a catalog or of a map of up to four pages; page 0 and two distinct others of a larger map', () => {
    assert.deepEqual(pagesToFetch(1, false), []);
    assert.deepEqual(pagesToFetch(4, false), [1, 2, 3]);
    assert.deepEqual(pagesToFetch(9, true), [1, 2, 3, 4, 5, 6, 7, 8]);
    fc.assert(fc.property(fc.integer({ min: 5, max: 5000 }), (pageCount) => {
      const pages = pagesToFetch(pageCount, false);
      assert.equal(pages.length, 2);
      assert.equal(new Set(pages).size, 2);
      for (const p of pages) assert.ok(p >= 1 && p < pageCount);
    }));
  });

  it('asks for the map every second up to 200 holders, then less often, at least every 10 s', () => {
    assert.deepEqual([0, 1, 200, 201, 1000, 10_000, 1e9].map(ticksBetweenQueries), [1, 1, 1, 2, 5, 10, 10]);
  });
});
