// A probe actor for the runtime's tests: it counts, crashes on demand, ticks,
// and sends bursts and payloads to other actors.
import { createHash, randomBytes } from 'node:crypto';
import { p2p } from '../../src/gen/proto';
import { defineBehavior, type ActorRef } from '../../src/runtime';

type Command = p2p.v1.testing.ProbeCommand.$Properties;
const generations = new Map<string, number>();

export const Probe = defineBehavior<Command, { label?: string }>({
  name: 'test.Probe',
  inbox: p2p.v1.testing.ProbeCommand,
  supervision: { kind: 'restart', maxRestarts: 3, withinMs: 60_000, minBackoffMs: 10, maxBackoffMs: 100 },
  create(ctx) {
    const generation = (generations.get(ctx.self.id) ?? 0) + 1;
    generations.set(ctx.self.id, generation);
    const seqs: number[] = [];
    let ticks = 0;
    let payload: Uint8Array | undefined;
    let sent: Uint8Array | undefined;
    return {
      receive(m, delivery) {
        switch (m.body) {
          case 'count': seqs.push(m.count!.seq ?? 0); break;
          case 'crash': throw new Error(m.crash!.reason ?? 'asked to crash');
          case 'getState':
            delivery.reply(p2p.v1.testing.ProbeState, {
              seqs, generation, ticks,
              payloadSha256: payload ? createHash('sha256').update(payload).digest() : new Uint8Array(0),
              payloadLength: payload?.byteLength ?? 0,
              sentSha256: sent ?? new Uint8Array(0),
            });
            break;
          case 'payload': payload = m.payload!.data ?? new Uint8Array(0); break;
          case 'ignore': break;
          case 'startTicking': ctx.every(m.startTicking!.intervalMs ?? 10, { tick: {} }); break;
          case 'tick': ticks++; break;
          case 'sendBurst': {
            const to = m.sendBurst!.to as ActorRef<Command>;
            for (let seq = 1; seq <= (m.sendBurst!.count ?? 0); seq++) ctx.tell(to, { count: { seq } });
            break;
          }
          case 'sendPayload': {
            const data = randomBytes(m.sendPayload!.size ?? 0);
            sent = createHash('sha256').update(data).digest();
            ctx.tell(m.sendPayload!.to as ActorRef<Command>, { payload: { data } });
            break;
          }
          default: break;
        }
      },
    };
  },
});

export const behaviors = [Probe];
