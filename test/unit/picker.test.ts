// The seed's rule: the rarest missing piece, from a holder chosen at random.
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { Bitfield } from '../../src/core/bitfield';
import { MissingByAvailability, availability, pickPiece, planPicks, type PeerView } from '../../src/core/picker';
import { seededRng } from '../../src/core/rng';

/** Fixtures as strings, one per peer: "1101" = holds pieces 0, 1 and 3. */
function peers(...rows: string[]): PeerView[] {
  return rows.map((row, i) => {
    const have = new Bitfield(row.length);
    [...row].forEach((c, piece) => { if (c === '1') have.set(piece); });
    return { peerId: `p${i}`, have };
  });
}
const bits = (row: string) => peers(row)[0]!.have;
const all = () => true;

const swarm = fc.integer({ min: 1, max: 40 }).chain((pieces) => fc.record({
  pieces: fc.constant(pieces),
  rows: fc.array(fc.array(fc.boolean(), { minLength: pieces, maxLength: pieces }), { minLength: 1, maxLength: 8 }),
  have: fc.array(fc.boolean(), { minLength: pieces, maxLength: pieces }),
  inFlight: fc.array(fc.integer({ min: 0, max: pieces - 1 }), { maxLength: 5 }),
  busy: fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
  seed: fc.integer(),
}));
const toRow = (r: boolean[]) => r.map((b) => (b ? '1' : '0')).join('');

describe('rarest-first picker', () => {
  it('picks a least-available missing piece, from a holder that can take it (scanning, or from the index of missing pieces)', () => {
    fc.assert(fc.property(swarm, fc.boolean(), (s, indexed) => {
      const view = peers(...s.rows.map(toRow));
      const have = bits(toRow(s.have));
      const inFlight = new Set(s.inFlight);
      const canTake = (id: string) => !s.busy[Number(id.slice(1))];
      const missing = indexed ? new MissingByAvailability(availability(s.pieces, view), have) : undefined;
      const pick = pickPiece({ have, inFlight, peers: view, canTake, missing }, seededRng(s.seed));
      const counts = availability(s.pieces, view);
      const candidates = [...Array(s.pieces).keys()].filter((i) =>
        !have.has(i) && !inFlight.has(i) && view.some((p) => canTake(p.peerId) && p.have.has(i)));
      if (candidates.length === 0) {
        assert.equal(pick, undefined);
        return;
      }
      assert.ok(pick);
      const least = Math.min(...candidates.map((i) => counts[i]!));
      assert.equal(counts[pick.piece], least, 'the chosen piece is among the rarest');
      assert.equal(pick.availability, least);
      assert.ok(!have.has(pick.piece) && !inFlight.has(pick.piece));
      const holder = view.find((p) => p.peerId === pick.peerId)!;
      assert.ok(holder.have.has(pick.piece), 'never a piece the chosen peer lacks');
      assert.ok(canTake(holder.peerId));
    }), { numRuns: 500 });
  });

  it('never picks a piece nobody holds', () => {
    const pick = pickPiece({ have: bits('0000'), inFlight: new Set(), peers: peers('0100', '0100'), canTake: all }, seededRng(1));
    assert.equal(pick?.piece, 1);
    assert.equal(pickPiece({ have: bits('0100'), inFlight: new Set(), peers: peers('0100'), canTake: all }, seededRng(1)), undefined);
  });

  it('prefers the piece held by one peer over pieces held by three', () => {
    // availability 3 3 1 3
    const view = peers('1111', '1101', '1101');
    for (let seed = 0; seed < 50; seed++) {
      assert.equal(pickPiece({ have: bits('0000'), inFlight: new Set(), peers: view, canTake: all }, seededRng(seed))?.piece, 2);
    }
  });

  it('skips pairs it is told to exclude, e.g. a peer that sent the piece corrupt', () => {
    const view = peers('1000', '1000');
    const pick = pickPiece({ have: bits('0000'), inFlight: new Set(), peers: view, canTake: all, exclude: (id) => id === 'p0' }, seededRng(3));
    assert.deepEqual([pick?.piece, pick?.peerId], [0, 'p1']);
  });

  it('chooses the holder uniformly at random among eligible holders', () => {
    const view = peers('1', '1', '1', '1', '1');
    const counts = new Map<string, number>();
    const rng = seededRng(42);
    const draws = 20_000;
    for (let i = 0; i < draws; i++) {
      const id = pickPiece({ have: bits('0'), inFlight: new Set(), peers: view, canTake: all }, rng)!.peerId;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    const expected = draws / view.length;
    const chiSquare = [...counts.values()].reduce((sum, c) => sum + (c - expected) ** 2 / expected, 0);
    assert.equal(counts.size, 5);
    assert.ok(chiSquare < 18.47, `chi-square ${chiSquare.toFixed(2)} (4 degrees of freedom, p = 0.001)`);
  });

  it('spreads ties over every tied piece', () => {
    const seen = new Set<number>();
    const rng = seededRng(7);
    for (let i = 0; i < 200; i++) {
      seen.add(pickPiece({ have: bits('00000'), inFlight: new Set(), peers: peers('11111'), canTake: all }, rng)!.piece);
    }
    assert.deepEqual([...seen].sort(), [0, 1, 2, 3, 4]);
  });

  it('sequential policy takes the lowest missing piece; random takes any', () => {
    const view = peers('1111', '0001');
    const input = { have: bits('1000'), inFlight: new Set<number>(), peers: view, canTake: all };
    assert.equal(pickPiece(input, seededRng(1), 'sequential')?.piece, 1);
    const seen = new Set<number>();
    const rng = seededRng(9);
    for (let i = 0; i < 100; i++) seen.add(pickPiece(input, rng, 'random')!.piece);
    assert.deepEqual([...seen].sort(), [1, 2, 3]);
    const missing = new MissingByAvailability(availability(4, view), input.have);
    const fromIndex = new Map<number, number>();
    for (let i = 0; i < 3000; i++) {
      const piece = pickPiece({ ...input, missing }, rng, 'random')!.piece;
      fromIndex.set(piece, (fromIndex.get(piece) ?? 0) + 1);
    }
    assert.deepEqual([...fromIndex.keys()].sort(), [1, 2, 3]);
    for (const n of fromIndex.values()) assert.ok(n > 850 && n < 1150, `random from the index is uneven: ${[...fromIndex.values()]}`);
  });

  it('keeps the index of missing pieces right as holders announce pieces and pieces arrive', () => {
    const ops = fc.array(fc.tuple(fc.boolean(), fc.nat()), { maxLength: 60 });
    fc.assert(fc.property(swarm, ops, (s, steps) => {
      const view = peers(...s.rows.map(toRow));
      const have = bits(toRow(s.have));
      const missing = new MissingByAvailability(availability(s.pieces, view), have);
      for (const [announce, n] of steps) {
        const piece = n % s.pieces;
        if (announce) {
          // One more holder: a new peer holding just this piece.
          const row = [...Array(s.pieces).keys()].map((i) => (i === piece ? '1' : '0')).join('');
          view.push({ peerId: `p${view.length}`, have: bits(row) });
          missing.holderAdded(piece);
        } else if (!have.has(piece)) {
          have.set(piece);
          missing.remove(piece);
        }
      }
      assert.deepEqual([...missing.counts], [...availability(s.pieces, view)]);
      // Every pick from the index is one the full scan allows, until nothing is left to pick.
      const counts = availability(s.pieces, view);
      const inFlight = new Set<number>();
      for (let i = 0; i < s.pieces; i++) {
        const pick = pickPiece({ have, inFlight, peers: view, canTake: all, missing }, seededRng(s.seed + i));
        const left = [...Array(s.pieces).keys()].filter((p) => !have.has(p) && !inFlight.has(p) && counts[p]! > 0);
        if (left.length === 0) {
          assert.equal(pick, undefined);
          break;
        }
        assert.ok(pick && left.includes(pick.piece));
        assert.equal(counts[pick.piece], Math.min(...left.map((p) => counts[p]!)));
        inFlight.add(pick.piece);
      }
    }), { numRuns: 300 });
  });

  it('from the index, chooses uniformly among the rarest pieces it can take', () => {
    // Pieces 0-9 held by one peer, 10-19 by two; 0-5 already in flight: 6, 7, 8, 9 are the choice.
    const view = peers('11111111111111111111', '00000000001111111111');
    const have = bits('00000000000000000000');
    const missing = new MissingByAvailability(availability(20, view), have);
    const inFlight = new Set([0, 1, 2, 3, 4, 5]);
    const rng = seededRng(11);
    const counts = new Map<number, number>();
    const draws = 20_000;
    for (let i = 0; i < draws; i++) {
      const piece = pickPiece({ have, inFlight, peers: view, canTake: all, missing }, rng)!.piece;
      counts.set(piece, (counts.get(piece) ?? 0) + 1);
    }
    assert.deepEqual([...counts.keys()].sort((a, b) => a - b), [6, 7, 8, 9]);
    const expected = draws / 4;
    const chiSquare = [...counts.values()].reduce((sum, c) => sum + (c - expected) ** 2 / expected, 0);
    assert.ok(chiSquare < 16.27, `chi-square ${chiSquare.toFixed(2)} (3 degrees of freedom, p = 0.001)`);
  });

  it('plans several picks without repeating a piece or overfilling a peer', () => {
    fc.assert(fc.property(swarm, fc.integer({ min: 1, max: 3 }), (s, slots) => {
      const view = peers(...s.rows.map(toRow));
      const picks = planPicks({ have: bits(toRow(s.have)), inFlight: new Set(s.inFlight), peers: view }, seededRng(s.seed), 50, () => slots);
      const pieces = picks.map((p) => p.piece);
      assert.equal(new Set(pieces).size, pieces.length);
      const perPeer = new Map<string, number>();
      for (const p of picks) perPeer.set(p.peerId, (perPeer.get(p.peerId) ?? 0) + 1);
      for (const n of perPeer.values()) assert.ok(n <= slots);
    }), { numRuns: 200 });
  });
});
