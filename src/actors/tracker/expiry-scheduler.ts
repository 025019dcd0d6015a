// Every announce interval, tells the registry to drop peers that have been
// silent for three intervals.
//
// Accepts ExpirySchedulerCommand: Tick (its own timer).
// Sends RegistryCommand.ExpireSilentPeers.
import { p2p } from '../../gen/proto';
import { defineBehavior, type ActorRef } from '../../runtime';

export interface ExpirySchedulerProps {
  registry: ActorRef<p2p.v1.RegistryCommand.$Properties>;
  intervalMs: number;
}

export const ExpiryScheduler = defineBehavior<p2p.v1.ExpirySchedulerCommand.$Properties, ExpirySchedulerProps>({
  name: 'tracker.ExpiryScheduler',
  inbox: p2p.v1.ExpirySchedulerCommand,
  create: (ctx, props) => ({
    started: () => { ctx.every(props.intervalMs, { tick: {} }); },
    receive: () => ctx.tell(props.registry, { expire: {} }),
  }),
});
