// The seed's rule, as a decision with no side effects: choose the missing
// piece held by the fewest peers (rarest first, ties broken at random), then
// one of its holders uniformly at random. The caller commits the decision.
// Other policies exist so a class can see why rarest-first matters.
import type { Bitfield } from './bitfield';
import type { Rng } from './rng';

export interface PeerView {
  peerId: string;
  have: Bitfield;
}

export interface PickInput {
  /** Our verified pieces. */
  have: Bitfield;
  /** Pieces already being fetched. */
  inFlight: ReadonlySet<number>;
  peers: readonly PeerView[];
  /** The peer has a free request slot and is not banned. */
  canTake: (peerId: string) => boolean;
  /** True for pairs not to try again (e.g. that peer sent this piece corrupt). */
  exclude?: (peerId: string, piece: number) => boolean;
  /** `availability(have.length, peers)`, when the caller already has it. */
  availability?: Uint32Array;
}

export interface Pick {
  piece: number;
  peerId: string;
  /** How many peers hold the piece. */
  availability: number;
}

export type PiecePolicy = 'rarest' | 'random' | 'sequential';

/** How many peers hold each piece. */
export function availability(pieceTotal: number, peers: readonly PeerView[]): Uint32Array {
  const counts = new Uint32Array(pieceTotal);
  for (const p of peers) {
    for (let i = 0; i < pieceTotal; i++) if (p.have.has(i)) counts[i]!++;
  }
  return counts;
}

/** Candidate pieces of one pick, reused: a download picks once per verified piece, over every piece. */
let candidates = new Uint32Array(1024);

export function pickPiece(input: PickInput, rng: Rng, policy: PiecePolicy = 'rarest'): Pick | undefined {
  const total = input.have.length;
  const eligible = input.peers.filter((p) => input.canTake(p.peerId));
  if (eligible.length === 0) return undefined;
  const counts = input.availability ?? availability(total, input.peers);
  const exclude = input.exclude;
  const holds = (p: PeerView, piece: number) => p.have.has(piece) && !(exclude?.(p.peerId, piece) ?? false);
  const hasEligibleHolder = (piece: number) => {
    for (const p of eligible) if (holds(p, piece)) return true;
    return false;
  };

  if (candidates.length < total) candidates = new Uint32Array(total);
  let found = 0;
  let best = Infinity;
  for (let piece = 0; piece < total; piece++) {
    const a = counts[piece]!;
    if (a === 0 || (policy === 'rarest' && a > best)) continue;
    if (input.have.has(piece) || input.inFlight.has(piece) || !hasEligibleHolder(piece)) continue;
    if (policy === 'rarest' && a < best) {
      best = a;
      found = 0;
    }
    candidates[found++] = piece;
    if (policy === 'sequential') break;
  }
  if (found === 0) return undefined;
  const piece = candidates[rng.nextInt(found)]!;
  const holders = eligible.filter((p) => holds(p, piece));
  const holder = holders[rng.nextInt(holders.length)]!;
  return { piece, peerId: holder.peerId, availability: counts[piece]! };
}

/**
 * Several picks at once, as a download fills its request slots: each pick
 * counts as in flight for the next, and `slotsFor` says how many pieces each
 * peer may still take.
 */
export function planPicks(input: Omit<PickInput, 'canTake'>, rng: Rng, maxPicks: number,
  slotsFor: (peerId: string) => number, policy: PiecePolicy = 'rarest'): Pick[] {
  const inFlight = new Set(input.inFlight);
  const used = new Map<string, number>();
  const counts = input.availability ?? availability(input.have.length, input.peers);
  const picks: Pick[] = [];
  while (picks.length < maxPicks) {
    const pick = pickPiece({
      ...input, inFlight, availability: counts,
      canTake: (id) => (used.get(id) ?? 0) < slotsFor(id),
    }, rng, policy);
    if (!pick) break;
    picks.push(pick);
    inFlight.add(pick.piece);
    used.set(pick.peerId, (used.get(pick.peerId) ?? 0) + 1);
  }
  return picks;
}

export interface PieceInFlight {
  piece: number;
  /** Peers fetching it now. */
  holders: number;
  /** When the first of them was asked (ms). */
  since: number;
}

/**
 * The endgame's choice, for a peer with a free request slot and no new piece
 * to give: a piece already in flight elsewhere that it also holds, so the
 * last pieces do not wait on the slowest peer. Only pieces in flight for at
 * least `minAgeMs` (0 once every missing piece is in flight), on fewer than
 * `maxHolders` peers; the least-covered, then the oldest, first.
 */
export function pickDuplicate(inFlight: readonly PieceInFlight[], peerHas: (piece: number) => boolean,
  now: number, minAgeMs: number, maxHolders: number): number | undefined {
  let best: PieceInFlight | undefined;
  for (const f of inFlight) {
    if (f.holders >= maxHolders || now - f.since < minAgeMs || !peerHas(f.piece)) continue;
    if (!best || f.holders < best.holders || (f.holders === best.holders && f.since < best.since)) best = f;
  }
  return best?.piece;
}
