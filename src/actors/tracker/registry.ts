// The tracker's registry actor: the SwarmRegistry (src/core) behind a
// mailbox, answering each request with the packet to send back. Swarm maps
// are paged so every datagram stays under the UDP limit.
//
// Accepts RegistryCommand: RegistryAnnounce, RegistryQuery, RegistryLeave
// (asks -> RegistryReply), ExpireSilentPeers.
// Sends TrackerEvent (PeerJoined, PeerLeft) to the console.
import { p2p } from '../../gen/proto';
import { defineBehavior, type ActorContext, type ActorRef, type Delivery } from '../../runtime';
import { entriesPerPage, pageCountOf } from '../../core/paging';
import { SwarmRegistry, type RegistryRefusal } from '../../core/registry';

type Command = p2p.v1.RegistryCommand.$Properties;
type Packet = p2p.v1.TrackerPacket.$Properties;

export interface RegistryProps {
  announceIntervalMs: number;
  console?: ActorRef<p2p.v1.TrackerEvent.$Properties>;
}

/** Bytes of swarm entries per datagram: 65,507 minus room for the envelope. */
export const PAGE_BUDGET_BYTES = 60_000;

/** Bytes a field adds to its message besides the entry: its tag and length. */
const FIELD_OVERHEAD = 4;

/** The largest a catalog entry can be: a 255-character name of 3-byte characters, every number at its maximum. */
export const WORST_FILE_BYTES = p2p.v1.SwarmFile.encode({
  contentId: new Uint8Array(32), name: '\u0800'.repeat(255), size: Number.MAX_SAFE_INTEGER, pieceSize: 0xffff_ffff,
  pieceCount: 0xffff_ffff, holderCount: 0xffff_ffff, seedCount: 0xffff_ffff,
}).finish().length + FIELD_OVERHEAD;

const worstPeerBytes = new Map<number, number>();

/** The largest a swarm-map entry can be for a file of `pieceCount` pieces. */
export function worstPeerEntryBytes(pieceCount: number): number {
  let bytes = worstPeerBytes.get(pieceCount);
  if (bytes === undefined) {
    bytes = p2p.v1.SwarmPeer.encode({
      peerId: new Uint8Array(16), ip: '~'.repeat(64), port: 65535, have: new Uint8Array(Math.ceil(pieceCount / 8)), complete: true,
    }).finish().length + FIELD_OVERHEAD;
    if (worstPeerBytes.size > 1000) worstPeerBytes.clear();
    worstPeerBytes.set(pieceCount, bytes);
  }
  return bytes;
}

/** Holders per page of the swarm map of a file of `pieceCount` pieces. */
export function holdersPerPage(pieceCount: number): number {
  return entriesPerPage(worstPeerEntryBytes(pieceCount), PAGE_BUDGET_BYTES - WORST_FILE_BYTES);
}
const Code = p2p.v1.TrackerErrorCode;

export const Registry = defineBehavior<Command, RegistryProps>({
  name: 'tracker.Registry',
  inbox: p2p.v1.RegistryCommand,
  // A restart starts from an empty registry; peers re-announce within 3 s.
  supervision: { kind: 'restart', maxRestarts: 10, withinMs: 60_000, minBackoffMs: 10, maxBackoffMs: 1000 },
  create: (ctx, props) => new RegistryActor(ctx, props),
});

class RegistryActor {
  private readonly registry: SwarmRegistry;

  constructor(private readonly ctx: ActorContext<Command>, private readonly props: RegistryProps) {
    this.registry = new SwarmRegistry({ announceIntervalMs: props.announceIntervalMs });
  }

  receive(m: Command, d: Delivery): void {
    switch (m.body) {
      case 'announce': this.answer(d, this.announce(m.announce!)); break;
      case 'query': this.answer(d, this.query(m.query!.request ?? {})); break;
      case 'leave': this.answer(d, this.leave(m.leave!.request ?? {})); break;
      case 'expire':
        for (const peerId of this.registry.expire(Date.now())) this.event({ peerLeft: { peerId, reason: 'expired' } });
        break;
      default: d.fail(`unsupported registry command ${String(m.body)}`);
    }
  }

  private answer(d: Delivery, packet: Packet): void {
    d.reply(p2p.v1.RegistryReply, { packet });
  }

  private event(e: p2p.v1.TrackerEvent.$Properties): void {
    if (this.props.console) this.ctx.tell(this.props.console, e);
  }

  private announce(a: p2p.v1.RegistryAnnounce.$Properties): Packet {
    const r = a.request ?? {};
    const files = (r.files ?? []).map((f) => ({
      contentId: f.contentId ?? new Uint8Array(0), name: f.name ?? '', size: f.size ?? 0, pieceSize: f.pieceSize ?? 0,
      pieceCount: f.pieceCount ?? 0, have: f.have ?? new Uint8Array(0), complete: !!f.complete,
    }));
    const peerId = r.peerId ?? new Uint8Array(0);
    const result = this.registry.announce({
      peerId, peerKey: r.peerKey ?? new Uint8Array(0), ip: r.ip ?? '', port: r.port ?? 0, files,
    }, Date.now());
    if (!result.ok) return refusal(result);
    if (result.isNew) this.event({ peerJoined: { peerId, ip: r.ip ?? '', port: r.port ?? 0, fileCount: files.length } });
    return { announceResponse: { intervalMs: this.props.announceIntervalMs, peerCount: this.registry.peerCount } };
  }

  private query(q: p2p.v1.SwarmQuery.$Properties): Packet {
    const contentId = q.contentId ?? new Uint8Array(0);
    const page = q.page ?? 0;
    if (contentId.length === 0) {
      const perPage = entriesPerPage(WORST_FILE_BYTES, PAGE_BUDGET_BYTES);
      const files = this.registry.catalog(page * perPage, (page + 1) * perPage);
      return { swarmMap: { files, page, pageCount: pageCountOf(this.registry.fileCount, perPage) } };
    }
    const file = this.registry.fileInfo(contentId);
    if (!file) return { swarmMap: { contentId, page, pageCount: 1 } };
    const perPage = holdersPerPage(file.pieceCount);
    const peers = this.registry.holders(contentId, q.peerId ?? undefined, page * perPage, (page + 1) * perPage);
    return { swarmMap: { contentId, files: [file], peers, page, pageCount: pageCountOf(file.holderCount, perPage) } };
  }

  private leave(l: p2p.v1.LeaveRequest.$Properties): Packet {
    const peerId = l.peerId ?? new Uint8Array(0);
    const result = this.registry.leave(peerId, l.peerKey ?? new Uint8Array(0));
    if (!result.ok) return refusal(result);
    if (result.wasRegistered) this.event({ peerLeft: { peerId, reason: 'left' } });
    return { leaveResponse: { wasRegistered: result.wasRegistered } };
  }
}

function refusal(r: RegistryRefusal): Packet {
  const code = r.code === 'NOT_OWNER' ? Code.TRACKER_ERROR_CODE_NOT_OWNER : Code.TRACKER_ERROR_CODE_INVALID;
  return { error: { code, message: r.message } };
}
