// Pure pieces of the data plane: the bulk frames written and read by hand
// (Block, BlockRequest), the endgame's choice, rate meters and the upload order under a limit.
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { p2p } from '../../src/gen/proto';
import { bodyOf, delimit, FrameDecoder } from '../../src/core/frame-codec';
import { pickDuplicate, type PieceInFlight } from '../../src/core/picker';
import { RateMeter } from '../../src/core/rate';
import { SourceLimiter } from '../../src/core/source-limiter';
import {
  blockFrameHead, blockFrameWithoutData, maxBlockRequestBytes, readBulkFrame, writeBlockRequest, type BulkFrame,
} from '../../src/actors/peer/block-frame';
import { Traffic } from '../../src/actors/peer/traffic';

describe('Bulk frames by hand (Block, BlockRequest)', () => {
  it('head + data is byte for byte the delimited PeerFrame protobufjs encodes', () => {
    fc.assert(fc.property(
      fc.uint8Array({ maxLength: 40 }), fc.nat(), fc.nat(), fc.uint8Array({ maxLength: 3000 }),
      (contentId, piece, offset, data) => {
        const ours = Buffer.concat([blockFrameHead(contentId, piece, offset, data.length), data]);
        const reference = delimit(p2p.v1.PeerFrame.encode({ block: { contentId, piece, offset, data } }).finish());
        assert.deepEqual(ours, Buffer.from(reference));
        const [frame] = new FrameDecoder(1 << 20).push(ours);
        const block = p2p.v1.PeerFrame.decode(frame!).block!;
        assert.equal(block.piece, piece);
        assert.deepEqual(Buffer.from(block.data ?? []), Buffer.from(data));
      }));
  });

  it('a traced block without its data is the PeerFrame protobufjs encodes without data, call after call', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.uint8Array({ maxLength: 300 }), fc.nat(), fc.nat()), { minLength: 1, maxLength: 5 }), (blocks) => {
      for (const [contentId, piece, offset] of blocks) {
        const reference = p2p.v1.PeerFrame.encode({ block: { contentId, piece, offset } }).finish();
        assert.deepEqual(Buffer.from(blockFrameWithoutData(contentId, piece, offset)), Buffer.from(reference));
      }
    }));
  });

  const uint32 = fc.integer({ min: 0, max: 0xffffffff });
  const request = fc.record({ contentId: fc.uint8Array({ maxLength: 40 }), piece: uint32, offset: uint32, length: uint32 });

  it('requests written one after another are byte for byte the delimited PeerFrames protobufjs encodes', () => {
    fc.assert(fc.property(fc.array(request, { minLength: 1, maxLength: 8 }), fc.nat({ max: 7 }), (requests, start) => {
      const out = Buffer.alloc(start + requests.reduce((n, r) => n + maxBlockRequestBytes(r.contentId.length), 0));
      let at = start;
      for (const r of requests) {
        const frameStart = at;
        at = writeBlockRequest(out, at, r.contentId, r.piece, r.offset, r.length);
        // What a trace records of it: the frame without its length prefix.
        assert.deepEqual(Buffer.from(bodyOf(out.subarray(frameStart, at))), Buffer.from(p2p.v1.PeerFrame.encode({ blockRequest: r }).finish()));
      }
      const reference = Buffer.concat(requests.map((blockRequest) => delimit(p2p.v1.PeerFrame.encode({ blockRequest }).finish())));
      assert.deepEqual(out.subarray(start, at), reference);
    }));
  });

  const fields = (): BulkFrame => ({ contentId: new Uint8Array(0), piece: 0, offset: 0, length: 0, data: new Uint8Array(0) });

  it('reads every Block and BlockRequest protobufjs encodes, field for field', () => {
    const block = fc.record({ contentId: fc.uint8Array({ maxLength: 40 }), piece: uint32, offset: uint32, data: fc.uint8Array({ maxLength: 300 }) });
    fc.assert(fc.property(fc.oneof(block.map((b) => ({ block: b })), request.map((r) => ({ blockRequest: r }))), (body) => {
      const out = fields();
      const kind = readBulkFrame(p2p.v1.PeerFrame.encode(body).finish(), out);
      if ('block' in body) {
        assert.equal(kind, 'block');
        assert.deepEqual({ ...out, length: 0 }, { ...body.block, contentId: out.contentId, data: out.data, length: 0 });
        assert.deepEqual(Buffer.from(out.data), Buffer.from(body.block.data));
        assert.deepEqual(Buffer.from(out.contentId), Buffer.from(body.block.contentId));
      } else {
        assert.equal(kind, 'blockRequest');
        assert.deepEqual([out.piece, out.offset, out.length], [body.blockRequest.piece, body.blockRequest.offset, body.blockRequest.length]);
        assert.deepEqual(Buffer.from(out.contentId), Buffer.from(body.blockRequest.contentId));
      }
    }));
  });

  it('reads a frame only when PeerFrame.decode reads it the same way; the rest is left to protobufjs', () => {
    // Frames made of arbitrary fields (known, unknown, repeated, cut short)
    // after a Block or BlockRequest tag, and plain random bytes.
    const known = fc.oneof(
      fc.tuple(fc.constantFrom(2, 3, 4), uint32).map(([n, v]) => Buffer.concat([Buffer.from([n << 3]), varint(v)])),
      fc.tuple(fc.constantFrom(1, 4), fc.uint8Array({ maxLength: 20 })).map(([n, b]) => Buffer.concat([Buffer.from([(n << 3) | 2]), varint(b.length), b])),
    );
    const other = fc.oneof(
      fc.tuple(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 0, max: 7 }), uint32).map(([n, t, v]) => Buffer.concat([Buffer.from([(n << 3) | t]), varint(v)])),
      fc.uint8Array({ maxLength: 6 }).map((b) => Buffer.from(b)),
    );
    const field = fc.oneof({ arbitrary: known, weight: 6 }, { arbitrary: other, weight: 1 });
    const framed = fc.tuple(fc.constantFrom(0x22, 0x2a), fc.array(field, { maxLength: 6 }), fc.constantFrom(0, 0, 0, 0, -1, 1)).map(([tag, parts, skew]) => {
      const body = Buffer.concat(parts);
      return Buffer.concat([Buffer.from([tag]), varint(Math.max(0, body.length + skew)), body]);
    });
    let read = 0;
    fc.assert(fc.property(fc.oneof(framed, fc.uint8Array({ maxLength: 60 }).map((b) => Buffer.from(b))), (bytes) => {
      const out = fields();
      const kind = readBulkFrame(bytes, out);
      if (!kind) return;
      read++;
      const frame = p2p.v1.PeerFrame.decode(bytes);
      assert.equal(frame.body, kind);
      const decoded = kind === 'block' ? frame.block! : frame.blockRequest!;
      assert.deepEqual(Buffer.from(out.contentId), Buffer.from(decoded.contentId ?? []));
      assert.equal(out.piece, decoded.piece ?? 0);
      assert.equal(out.offset, decoded.offset ?? 0);
      if (kind === 'block') assert.deepEqual(Buffer.from(out.data), Buffer.from(frame.block!.data ?? []));
      else assert.equal(out.length, frame.blockRequest!.length ?? 0);
    }), { numRuns: 2000 });
    assert.ok(read > 200, `only ${read} of 2000 frames were read by hand`);
  });
});

function varint(n: number): Buffer {
  const bytes: number[] = [];
  for (; n >= 0x80; n = Math.floor(n / 128)) bytes.push((n & 0x7f) | 0x80);
  bytes.push(n);
  return Buffer.from(bytes);
}

describe('endgame choice (pickDuplicate)', () => {
  const flights: PieceInFlight[] = [
    { piece: 1, holders: 1, since: 0 },
    { piece: 2, holders: 2, since: -5000 },
    { piece: 3, holders: 1, since: 900 },
  ];

  it('takes the least-covered, then the oldest, piece the peer holds', () => {
    assert.equal(pickDuplicate(flights, () => true, 1000, 0, 3), 1);
    assert.equal(pickDuplicate(flights, (p) => p !== 1, 1000, 0, 3), 3);
  });

  it('leaves pieces younger than the minimum age, or on enough holders', () => {
    assert.equal(pickDuplicate(flights, () => true, 1000, 500, 3), 1);
    assert.equal(pickDuplicate(flights, (p) => p !== 1, 1000, 500, 3), 2);
    assert.equal(pickDuplicate(flights, (p) => p !== 1, 1000, 500, 2), undefined);
  });

  it('never picks a piece the peer lacks or one already on maxHolders peers', () => {
    fc.assert(fc.property(
      fc.array(fc.record({ piece: fc.nat(50), holders: fc.integer({ min: 1, max: 4 }), since: fc.integer({ min: 0, max: 10_000 }) })),
      fc.func(fc.boolean()), fc.integer({ min: 1, max: 4 }),
      (fl, has, maxHolders) => {
        const pick = pickDuplicate(fl, (p) => has(p), 10_000, 0, maxHolders);
        if (pick === undefined) return;
        assert.ok(has(pick));
        assert.ok(fl.some((f) => f.piece === pick && f.holders < maxHolders));
      }));
  });
});

describe('rate meter', () => {
  it('measures a steady rate over its window', () => {
    const m = new RateMeter(5000, 20, 0);
    for (let t = 0; t <= 20_000; t += 10) m.record(10_000, t); // 1 MB/s
    assert.ok(Math.abs(m.rate(20_000) - 1_000_000) / 1_000_000 < 0.03, `${m.rate(20_000)}`);
    assert.equal(m.total, 10_000 * 2001);
  });

  it('falls to zero once traffic stops for a window', () => {
    const m = new RateMeter(5000, 20, 0);
    m.record(1_000_000, 100);
    assert.ok(m.rate(1000) > 0);
    assert.equal(m.rate(7000), 0);
  });
});

describe('upload order under a limit', () => {
  it('sends a first copy of a piece before a second copy of another, then the older request first', async () => {
    let now = 0;
    const traffic = new Traffic(16 * 1024 * 50, Infinity, () => now);
    const order: string[] = [];
    traffic.rankOf('x:1');
    const second = traffic.rankOf('x:1'); // a second requester of piece 1
    const first = traffic.rankOf('x:2');
    assert.deepEqual([second, first], [1, 0]);
    // Drain the bucket's burst so that everything below has to wait its turn.
    await traffic.whenCanSend(64 * 1024, { rank: 0, requestedAt: 0 });
    const waits = [
      traffic.whenCanSend(16 * 1024, { rank: second, requestedAt: 1 }).then(() => order.push('second copy of 1')),
      traffic.whenCanSend(16 * 1024, { rank: first, requestedAt: 5 }).then(() => order.push('first copy of 2, newer')),
      traffic.whenCanSend(16 * 1024, { rank: first, requestedAt: 2 }).then(() => order.push('first copy of 2, older')),
    ];
    now = 10_000;
    await Promise.all(waits);
    traffic.close();
    assert.deepEqual(order, ['first copy of 2, older', 'first copy of 2, newer', 'second copy of 1']);
  });

  it('calls the backlog full at two seconds of the limit (never under 512 KiB), and never without a limit', () => {
    const limited = new Traffic(1024 * 1024, Infinity);
    limited.backlog(2 * 1024 * 1024 - 1);
    assert.equal(limited.backlogFull, false);
    limited.backlog(1);
    assert.equal(limited.backlogFull, true);
    limited.backlog(-256 * 1024);
    assert.equal(limited.backlogFull, false, 'a piece sent makes room again');
    const slow = new Traffic(16 * 1024, Infinity);
    slow.backlog(511 * 1024);
    assert.equal(slow.backlogFull, false, 'room for two pieces even at a low limit');
    const unlimited = new Traffic(Infinity, Infinity);
    unlimited.backlog(1 << 30);
    assert.equal(unlimited.backlogFull, false);
    for (const t of [limited, slow, unlimited]) t.close();
  });
});

describe('per-source packet limits', () => {
  it('holds each source to its rate, independently of the others', () => {
    const limiter = new SourceLimiter({ perSecond: 100, burst: 10, maxSources: 100 });
    let flooder = 0;
    let quiet = 0;
    for (let t = 0; t < 10_000; t += 1) {
      for (let k = 0; k < 5; k++) if (limiter.allow('10.0.0.1:1', t)) flooder++; // 5,000 packets/s
      if (t % 100 === 0 && limiter.allow('10.0.0.2:1', t)) quiet++; // 10 packets/s
    }
    assert.ok(flooder >= 990 && flooder <= 1011, `the flooder got ${flooder} through in 10 s at 100/s`);
    assert.equal(quiet, 100, 'the quiet source lost nothing');
    assert.ok((limiter.drainRefused().get('10.0.0.1:1') ?? 0) > 40_000);
  });

  it('forgets the least recently seen source past its memory bound', () => {
    fc.assert(fc.property(fc.array(fc.nat(500), { maxLength: 2000 }), (sources) => {
      const limiter = new SourceLimiter({ perSecond: 1, burst: 1, maxSources: 64 });
      sources.forEach((s, t) => limiter.allow(`s${s}`, t));
      assert.ok(limiter.sources <= 64);
    }));
  });
});
