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
  /**
   * The missing pieces by availability (kept by the caller as pieces and
   * holders come): a rarest or random pick then looks at a few pieces, not
   * at every piece of the file.
   */
  missing?: MissingByAvailability;
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
let candidates: Uint32Array = new Uint32Array(1024);

export function pickPiece(input: PickInput, rng: Rng, policy: PiecePolicy = 'rarest'): Pick | undefined {
  const total = input.have.length;
  const eligible = input.peers.filter((p) => input.canTake(p.peerId));
  if (eligible.length === 0) return undefined;
  const counts = input.missing?.counts ?? input.availability ?? availability(total, input.peers);
  const exclude = input.exclude;
  const holds = (p: PeerView, piece: number) => p.have.has(piece) && !(exclude?.(p.peerId, piece) ?? false);
  const hasEligibleHolder = (piece: number) => {
    for (const p of eligible) if (holds(p, piece)) return true;
    return false;
  };
  const chosen = (piece: number): Pick => {
    const holders = eligible.filter((p) => holds(p, piece));
    const holder = holders[rng.nextInt(holders.length)]!;
    return { piece, peerId: holder.peerId, availability: counts[piece]! };
  };

  if (input.missing && policy !== 'sequential') {
    const takeable = (piece: number) => !input.have.has(piece) && !input.inFlight.has(piece) && hasEligibleHolder(piece);
    const piece = policy === 'rarest' ? input.missing.rarest(takeable, rng) : input.missing.any(takeable, rng);
    return piece === undefined ? undefined : chosen(piece);
  }

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
  return chosen(candidates[rng.nextInt(found)]!);
}

/** Random draws from a group before looking at all of it. */
const PROBES = 8;

/**
 * The pieces a download lacks, grouped by how many peers hold each. A pick
 * draws from the rarest group at random and takes the first draw it can
 * fetch (a uniform choice among those it can, as rejection sampling is);
 * only when a few draws all miss does it look at the whole group. Scanning
 * every piece for every pick cost 26 us at 1,024 pieces and 475 us at
 * 32,768: seconds of the swarm thread over a large file.
 */
export class MissingByAvailability {
  /** How many peers hold each piece (every piece, held by us or not). */
  readonly counts: Uint32Array;
  /** groups[a]: the missing pieces held by `a` peers, in no order. */
  private readonly groups: number[][] = [];
  /** Where each missing piece sits in its group; -1 for pieces we have. */
  private readonly slots: Int32Array;

  constructor(counts: Uint32Array, have: Bitfield) {
    this.counts = Uint32Array.from(counts);
    this.slots = new Int32Array(counts.length).fill(-1);
    for (let piece = 0; piece < counts.length; piece++) if (!have.has(piece)) this.add(piece);
  }

  /** One more peer holds `piece`. */
  holderAdded(piece: number): void {
    const present = this.slots[piece] !== -1;
    if (present) this.remove(piece);
    this.counts[piece]!++;
    if (present) this.add(piece);
  }

  /** We have `piece` now. */
  remove(piece: number): void {
    const slot = this.slots[piece]!;
    if (slot === -1) return;
    const group = this.groups[this.counts[piece]!]!;
    const last = group.pop()!;
    if (last !== piece) {
      group[slot] = last;
      this.slots[last] = slot;
    }
    this.slots[piece] = -1;
  }

  /** A piece `takeable` accepts among the least held (by at least one peer), uniformly; undefined if none. */
  rarest(takeable: (piece: number) => boolean, rng: Rng): number | undefined {
    for (let a = 1; a < this.groups.length; a++) {
      const group = this.groups[a];
      if (!group || group.length === 0) continue;
      const piece = draw([group], group.length, takeable, rng);
      if (piece !== undefined) return piece;
    }
    return undefined;
  }

  /** Any piece held by at least one peer that `takeable` accepts, uniformly; undefined if none. */
  any(takeable: (piece: number) => boolean, rng: Rng): number | undefined {
    const groups = this.groups.slice(1).filter((g) => g && g.length > 0);
    return draw(groups, groups.reduce((n, g) => n + g.length, 0), takeable, rng);
  }

  private add(piece: number): void {
    const a = this.counts[piece]!;
    const group = (this.groups[a] ??= []);
    this.slots[piece] = group.length;
    group.push(piece);
  }
}

/** A uniform choice among the pieces of `groups` that `takeable` accepts: a few random draws, then all of them. */
function draw(groups: number[][], size: number, takeable: (piece: number) => boolean, rng: Rng): number | undefined {
  if (size === 0) return undefined;
  for (let i = 0; i < Math.min(PROBES, size); i++) {
    let at = rng.nextInt(size);
    let g = 0;
    while (at >= groups[g]!.length) at -= groups[g++]!.length;
    const piece = groups[g]![at]!;
    if (takeable(piece)) return piece;
  }
  let found = 0;
  for (const group of groups) {
    if (candidates.length < found + group.length) candidates = growTo(candidates, found + group.length);
    for (const piece of group) if (takeable(piece)) candidates[found++] = piece;
  }
  return found === 0 ? undefined : candidates[rng.nextInt(found)];
}

function growTo(array: Uint32Array, length: number): Uint32Array {
  const grown = new Uint32Array(Math.max(length, array.length * 2));
  grown.set(array);
  return grown;
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
