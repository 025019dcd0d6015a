// The actor runtime, exercised through real worker threads: ordering, asks,
// supervision, scheduled messages, and buffers moved between threads.
import { strict as assert } from 'node:assert';
import { MessageChannel } from 'node:worker_threads';
import * as path from 'node:path';
import { p2p } from '../../src/gen/proto';
import {
  ActorSystem, AskFailedError, AskTimeoutError, HostRuntime, TypeRegistry, decide, type ActorRef,
} from '../../src/runtime';
import { encodeDelivery } from '../../src/runtime/envelope';

type Command = p2p.v1.testing.ProbeCommand.$Properties;
const State = p2p.v1.testing.ProbeState;
const protocolModule = path.join(__dirname, '../../src/gen/proto.js');
const probeModule = path.join(__dirname, 'probe.js');

describe('actor runtime', function () {
  this.timeout(20_000);
  let system: ActorSystem;
  const logs: string[] = [];

  before(async () => {
    system = await ActorSystem.start({
      hosts: ['alpha', 'beta'], protocolModule, catalogModules: [probeModule], log: (l) => logs.push(l),
    });
  });
  after(async () => { await system?.shutdown(); });

  const state = (ref: ActorRef<Command>) => system.ask(ref, { getState: {} }, State, 5000);

  it('keeps per-sender order across threads', async () => {
    const sender = system.spawn<Command, object>('test.Probe', {}, { host: 'alpha' });
    const receiver = system.spawn<Command, object>('test.Probe', {}, { host: 'beta' });
    system.tell(sender, { sendBurst: { to: receiver, count: 2000 } });
    let seqs: number[] = [];
    for (let i = 0; i < 100 && seqs.length < 2000; i++) {
      seqs = (await state(receiver)).seqs ?? [];
      if (seqs.length < 2000) await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(seqs.length, 2000);
    assert.deepEqual(seqs, Array.from({ length: 2000 }, (_v, i) => i + 1));
  });

  it('answers an ask and rejects one that gets no reply within its timeout', async () => {
    const probe = system.spawn<Command, object>('test.Probe', {}, { host: 'alpha' });
    assert.equal((await state(probe)).generation, 1);
    const started = Date.now();
    await assert.rejects(system.ask(probe, { ignore: {} }, State, 150), AskTimeoutError);
    assert.ok(Date.now() - started >= 140, 'the ask waited for its timeout');
  });

  it('fails an ask to an actor that does not exist', async () => {
    const ghost: ActorRef<Command> = { host: 1, id: '9.999', inbox: 'p2p.v1.testing.ProbeCommand' };
    await assert.rejects(system.ask(ghost, { getState: {} }, State, 2000), AskFailedError);
  });

  it('restarts a crashed actor with a fresh instance and logs the crash', async () => {
    const probe = system.spawn<Command, object>('test.Probe', {}, { host: 'beta' });
    system.tell(probe, { count: { seq: 7 } });
    assert.deepEqual((await state(probe)).seqs, [7]);
    await assert.rejects(system.ask(probe, { crash: { reason: 'boom' } }, State, 2000), /boom/);
    const after = await state(probe); // queued until the restart back-off ends
    assert.equal(after.generation, 2);
    assert.deepEqual(after.seqs ?? [], [], 'the new instance starts from fresh state');
    const stats = await system.stats();
    const beta = stats.find((s) => s.host === 'beta')!;
    assert.ok(beta.crashes >= 1 && beta.restarts >= 1);
    // The other actors on that host kept running.
    const neighbour = system.spawn<Command, object>('test.Probe', {}, { host: 'beta' });
    assert.equal((await state(neighbour)).generation, 1);
  });

  it('stops an actor that keeps crashing past its restart budget', async () => {
    const probe = system.spawn<Command, object>('test.Probe', {}, { host: 'alpha' });
    for (let i = 0; i < 4; i++) {
      await assert.rejects(system.ask(probe, { crash: { reason: `crash ${i}` } }, State, 3000));
    }
    await assert.rejects(state(probe), AskFailedError);
    const stats = await system.stats();
    assert.ok(stats.find((s) => s.host === 'alpha')!.stoppedBySupervisor >= 1);
  });

  it('delivers scheduled messages to self', async () => {
    const probe = system.spawn<Command, object>('test.Probe', {}, { host: 'alpha' });
    system.tell(probe, { startTicking: { intervalMs: 10 } });
    let ticks = 0;
    for (let i = 0; i < 100 && ticks < 3; i++) {
      await new Promise((r) => setTimeout(r, 20));
      ticks = (await state(probe)).ticks ?? 0;
    }
    assert.ok(ticks >= 3, `got ${ticks} ticks`);
  });

  it('moves a large payload between threads intact, in a transfer list', async () => {
    const before = (await system.stats()).find((s) => s.host === 'alpha')!;
    const sender = system.spawn<Command, object>('test.Probe', {}, { host: 'alpha' });
    const receiver = system.spawn<Command, object>('test.Probe', {}, { host: 'beta' });
    system.tell(sender, { sendPayload: { to: receiver, size: 1 << 20 } });
    let got = await state(receiver);
    for (let i = 0; i < 100 && got.payloadLength !== 1 << 20; i++) {
      await new Promise((r) => setTimeout(r, 20));
      got = await state(receiver);
    }
    assert.equal(got.payloadLength, 1 << 20);
    assert.deepEqual(Buffer.from(got.payloadSha256!), Buffer.from((await state(sender)).sentSha256!));
    const afterStats = (await system.stats()).find((s) => s.host === 'alpha')!;
    assert.ok(afterStats.transferred > before.transferred, 'the envelope moved in a transfer list');
    assert.ok(afterStats.transferredBytes - before.transferredBytes >= 1 << 20);
  });

  it('hands a message to an actor on its own thread without encoding it: order kept, payload intact, nothing posted', async () => {
    const before = (await system.stats()).find((s) => s.host === 'alpha')!;
    const sender = system.spawn<Command, object>('test.Probe', {}, { host: 'alpha' });
    const receiver = system.spawn<Command, object>('test.Probe', {}, { host: 'alpha' });
    system.tell(sender, { sendBurst: { to: receiver, count: 500 } });
    system.tell(sender, { sendPayload: { to: receiver, size: 1 << 20 } });
    let got = await state(receiver);
    for (let i = 0; i < 100 && got.payloadLength !== 1 << 20; i++) {
      await new Promise((r) => setTimeout(r, 20));
      got = await state(receiver);
    }
    assert.deepEqual(got.seqs, Array.from({ length: 500 }, (_v, i) => i + 1));
    assert.equal(got.payloadLength, 1 << 20);
    assert.deepEqual(Buffer.from(got.payloadSha256!), Buffer.from((await state(sender)).sentSha256!));
    const afterStats = (await system.stats()).find((s) => s.host === 'alpha')!;
    assert.ok(afterStats.delivered - before.delivered >= 501, 'delivered through the mailbox');
    assert.ok(afterStats.transferredBytes - before.transferredBytes < 1 << 20, 'the payload was not posted');
    assert.ok(afterStats.copiedBytes - before.copiedBytes < 1 << 20, 'the payload was not copied into an envelope');
  });

  it('stops an actor on request; later asks fail fast', async () => {
    const probe = system.spawn<Command, object>('test.Probe', {}, { host: 'beta' });
    await state(probe);
    system.stop(probe);
    await assert.rejects(state(probe), AskFailedError);
  });
});

describe('host message transport', () => {
  it('detaches a transferred buffer on the sending side and delivers it intact', async () => {
    const registry = TypeRegistry.fromNamespace(p2p);
    const host = new HostRuntime(1, ['main', 'one'], registry, []);
    const { port1, port2 } = new MessageChannel();
    const data = Buffer.alloc(64 * 1024, 7);
    const bytes = encodeDelivery({ to: { host: 2, id: '2.1', inbox: 'p2p.v1.testing.ProbeCommand' }, type: 'p2p.v1.testing.ProbeCommand', sentAt: 1 },
      p2p.v1.testing.ProbeCommand, { payload: { data } });
    const copy = Buffer.from(bytes);
    const received = new Promise<Uint8Array>((resolve) => port2.once('message', resolve));
    host.post(port1, bytes);
    const arrived = await received;
    assert.equal(bytes.buffer.byteLength, 0, 'the sender no longer holds the bytes');
    assert.ok(Buffer.from(arrived).equals(copy));
    port1.close();
    port2.close();
  });

  it('posts what one turn queued as one batch: small messages packed in runs, large ones moved, in order', async () => {
    const registry = TypeRegistry.fromNamespace(p2p);
    const host = new HostRuntime(1, ['main', 'one'], registry, []);
    const { port1, port2 } = new MessageChannel();
    const small = (n: number) => Buffer.alloc(10 + n, n);
    const large = encodeDelivery({ to: { host: 2, id: '2.1', inbox: 'p2p.v1.testing.ProbeCommand' }, type: 'p2p.v1.testing.ProbeCommand', sentAt: 1 },
      p2p.v1.testing.ProbeCommand, { payload: { data: Buffer.alloc(8192, 9) } });
    const largeCopy = Buffer.from(large);
    const received = new Promise<unknown>((resolve) => port2.once('message', resolve));
    for (const m of [small(1), small(2), small(3)]) host.post(port1, m);
    host.post(port1, large);
    for (const m of [small(4), small(5)]) host.post(port1, m);
    const batch = await received;
    assert.ok(Array.isArray(batch) && batch.length === 3, 'one postMessage for the whole turn');
    const unpack = (run: ArrayBuffer) => {
      const out: Buffer[] = [];
      for (let at = 0; at < run.byteLength;) {
        const length = new DataView(run).getUint32(at, true);
        out.push(Buffer.from(run, at + 4, length));
        at += 4 + length;
      }
      return out;
    };
    assert.deepEqual(unpack(batch[0] as ArrayBuffer), [small(1), small(2), small(3)]);
    assert.ok(Buffer.from(batch[1] as Uint8Array).equals(largeCopy));
    assert.deepEqual(unpack(batch[2] as ArrayBuffer), [small(4), small(5)]);
    port1.close();
    port2.close();
  });
});

describe('supervision decisions', () => {
  const strategy = { kind: 'restart' as const, maxRestarts: 3, withinMs: 1000, minBackoffMs: 10, maxBackoffMs: 50 };
  it('backs off exponentially up to the cap', () => {
    assert.deepEqual(decide(strategy, [], 0), { kind: 'restart', afterMs: 10 });
    assert.deepEqual(decide(strategy, [0], 1), { kind: 'restart', afterMs: 20 });
    assert.deepEqual(decide(strategy, [0, 1], 2), { kind: 'restart', afterMs: 40 });
  });
  it('stops after the restart budget is spent within the window', () => {
    assert.equal(decide(strategy, [0, 1, 2], 3).kind, 'stop');
  });
  it('forgets restarts older than the window', () => {
    assert.deepEqual(decide(strategy, [0, 1, 2], 5000), { kind: 'restart', afterMs: 10 });
  });
  it('never restarts under a stop strategy', () => {
    assert.equal(decide({ kind: 'stop' }, [], 0).kind, 'stop');
  });
});
