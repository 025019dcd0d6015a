// The heartbeat scheduler: every announce interval (3 s, as the seed says) it
// asks the piece store what this peer holds and has the tracker client
// announce it. The only actor of the peer whose job is the clock.
//
// Accepts HeartbeatCommand: Tick (its own timer), AnnounceNow.
// Sends StoreCommand.ListHoldings (ask), TrackerClientCommand.AnnounceHoldings.
import { p2p } from '../../gen/proto';
import { defineBehavior, type ActorContext, type ActorRef } from '../../runtime';

type Command = p2p.v1.HeartbeatCommand.$Properties;

export interface HeartbeatProps {
  store: ActorRef<p2p.v1.StoreCommand.$Properties>;
  tracker: ActorRef<p2p.v1.TrackerClientCommand.$Properties>;
  ip: string;
  port: number;
  intervalMs: number;
}

const HOLDINGS_TIMEOUT_MS = 60_000;

export const Heartbeat = defineBehavior<Command, HeartbeatProps>({
  name: 'peer.Heartbeat',
  inbox: p2p.v1.HeartbeatCommand,
  create: (ctx, props) => new HeartbeatActor(ctx, props),
});

class HeartbeatActor {
  private inFlight = false;
  /** Set when stopping: an announce cut short by the shutdown is not worth a warning. */
  private stopping = false;

  constructor(private readonly ctx: ActorContext<Command>, private readonly props: HeartbeatProps) {}

  started(): void {
    this.ctx.every(this.props.intervalMs, { beat: {} });
    this.ctx.tell(this.ctx.self, { announceNow: {} });
  }

  stopped(): void {
    this.stopping = true;
  }

  receive(m: Command): void {
    switch (m.body) {
      case 'beat': case 'announceNow': void this.announce(); break;
      default: break;
    }
  }

  private async announce(): Promise<void> {
    if (this.inFlight) return; // the store is still busy with the last one
    this.inFlight = true;
    try {
      const holdings = await this.ctx.ask(this.props.store, { listHoldings: {} }, p2p.v1.Holdings, HOLDINGS_TIMEOUT_MS);
      this.ctx.tell(this.props.tracker, { announce: { ip: this.props.ip, port: this.props.port, files: holdings.files ?? [] } });
    } catch (err) {
      if (!this.stopping) this.ctx.log(`cannot announce: ${(err as Error).message}`);
    } finally {
      this.inFlight = false;
    }
  }
}
