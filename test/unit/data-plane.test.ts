// Pure pieces of the data plane: the zero-copy Block frame head, the
// endgame's choice, rate meters and the upload order under a limit.
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { p2p } from '../../src/gen/proto';
import { delimit, FrameDecoder } from '../../src/core/frame-codec';
import { pickDuplicate, type PieceInFlight } from '../../src/core/picker';
import { RateMeter } from '../../src/core/rate';
import { SourceLimiter } from '../../src/core/source-limiter';
import { blockFrameHead, blockFrameWithoutData } from '../../src/actors/peer/block-frame';
import { Traffic } from '../../src/actors/peer/traffic';

describe('Block frame head', () => {
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
});

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
