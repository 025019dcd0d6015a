// The tracker's registry actor: the SwarmRegistry (src/core) behind a
// mailbox, answering each request with the packet to send back. Swarm maps
// are paged so every datagram stays under the UDP limit.
//
// Accepts RegistryCommand: RegistryAnnounce, RegistryQuery, RegistryLeave
// (asks -> RegistryReply), ExpireSilentPeers.
// Sends TrackerEvent (PeerJoined, PeerLeft) to the console.
import { p2p } from '../../gen/proto';
import { defineBehavior, type ActorContext, type ActorRef, type Delivery } from '../../runtime';
import { paginate } from '../../core/paging';
import { SwarmRegistry, type RegistryRefusal } from '../../core/registry';

type Command = p2p.v1.RegistryCommand.$Properties;
type Packet = p2p.v1.TrackerPacket.$Properties;

export interface RegistryProps {
  announceIntervalMs: number;
  console?: ActorRef<p2p.v1.TrackerEvent.$Properties>;
}

/** Bytes of swarm entries per datagram: 65,507 minus room for the envelope. */
export const PAGE_BUDGET_BYTES = 60_000;
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
      const pages = paginate(this.registry.catalog(), (f) => p2p.v1.SwarmFile.encode(f).finish().length + 4, PAGE_BUDGET_BYTES);
      return { swarmMap: { files: pages[page] ?? [], page, pageCount: pages.length } };
    }
    const file = this.registry.catalog().find((f) => Buffer.from(f.contentId).equals(contentId));
    if (!file) return { swarmMap: { contentId, page, pageCount: 1 } };
    const holders = this.registry.holders(contentId, q.peerId ?? undefined);
    const pages = paginate(holders, (p) => p2p.v1.SwarmPeer.encode(p).finish().length + 4, PAGE_BUDGET_BYTES - 400);
    return { swarmMap: { contentId, files: [file], peers: pages[page] ?? [], page, pageCount: pages.length } };
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
