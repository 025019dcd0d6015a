// The tracker's console, on the main thread: hands the events of the tracker
// (listening, peers joining and leaving, problems) to the CLI's callback.
//
// Accepts TrackerEvent. Sends nothing.
import { p2p } from '../../gen/proto';
import { defineBehavior } from '../../runtime';

export interface TrackerConsoleSink {
  onEvent(event: p2p.v1.TrackerEvent.$Properties): void;
}

export const TrackerConsole = defineBehavior<p2p.v1.TrackerEvent.$Properties, object>({
  name: 'tracker.Console',
  inbox: p2p.v1.TrackerEvent,
  create: (ctx) => ({
    receive: (event) => (ctx.resource as TrackerConsoleSink | undefined)?.onEvent(event),
  }),
});
