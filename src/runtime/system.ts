// The actor system as seen from the main thread: it starts one worker thread
// per named host, joins every pair of hosts (main included) with a
// MessageChannel, and runs host 0 on the main thread itself. Control goes
// through comlink; actor messages go over the channels as protobuf bytes.
import { MessageChannel, Worker } from 'node:worker_threads';
import * as Comlink from 'comlink';
import nodeEndpoint from 'comlink/dist/umd/node-adapter';
import type { HostRuntime, HostStats } from './host';
import { loadCatalog, type HostControl } from './catalog';
import { takeWorker, workerDataOf, type WorkerHostsOptions } from './worker-boot';
import type { ActorRef, MessageClass, SpawnOptions } from './types';
import type { Tracer } from './tracer';
import type { p2p } from '../gen/proto';

export interface SystemOptions extends WorkerHostsOptions {
  log?: (line: string) => void;
}

interface WorkerHost {
  worker: Worker;
  control: Comlink.Remote<HostControl>;
  exited: Promise<void>;
}

export class ActorSystem {
  private closed = false;

  private constructor(readonly main: HostRuntime, private readonly workers: WorkerHost[]) {}

  static async start(options: SystemOptions): Promise<ActorSystem> {
    const hostNames = ['main', ...options.hosts];
    // The workers boot (and load the catalog each) while this thread loads its own.
    const booted = workerDataOf(options).map(takeWorker);
    const workers: WorkerHost[] = booted.map(({ worker, exited }) => ({ worker, control: Comlink.wrap<HostControl>(nodeEndpoint(worker)), exited }));
    // Only now the host runtime (and with it the generated protobuf code), so
    // nothing this thread loads delays the workers' start.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { HostRuntime: Host } = require('./host') as typeof import('./host');
    const { registry, behaviors } = loadCatalog(options.protocolModule, options.catalogModules);
    const main = new Host(0, hostNames, registry, behaviors, options.log);
    booted.forEach(({ worker, takeErrors }, i) => {
      const report = (err: Error) => main.log(`[runtime] host ${hostNames[i + 1]} failed: ${err.stack ?? err.message}`);
      worker.on('error', report);
      for (const err of takeErrors()) report(err);
    });
    // Join every pair of hosts with a channel of their own.
    const joins: Promise<void>[] = [];
    for (let a = 0; a < hostNames.length; a++) {
      for (let b = a + 1; b < hostNames.length; b++) {
        const { port1, port2 } = new MessageChannel();
        if (a === 0) main.connect(b, port1);
        else joins.push(workers[a - 1]!.control.connect(b, Comlink.transfer(port1, [port1])));
        joins.push(workers[b - 1]!.control.connect(a, Comlink.transfer(port2, [port2])));
      }
    }
    await Promise.all(joins);
    return new ActorSystem(main, workers);
  }

  spawn<T, P>(behavior: string, props: P, options: SpawnOptions = {}): ActorRef<T> {
    return this.main.spawn<T, P>(behavior, props, options);
  }

  tell<T>(to: ActorRef<T>, message: T): void {
    this.main.tell(undefined, to, message);
  }

  ask<T, R>(to: ActorRef<T>, message: T, reply: MessageClass<R>, timeoutMs: number): Promise<R> {
    return this.main.ask(undefined, to, message, reply, timeoutMs);
  }

  stop(ref: ActorRef): void {
    this.main.stopActor(ref);
  }

  /**
   * Starts recording every host's actor messages (and the wire messages its
   * actors report) into `sink`, as delimited p2p.v1.TraceRecord bytes.
   */
  async startTrace(sink: (records: Uint8Array) => void, payloads: boolean,
    first?: Omit<p2p.v1.TraceRecord.$Properties, 'timeMs' | 'host'>): Promise<void> {
    this.main.traceSink = sink;
    this.main.tracer.start(payloads);
    if (first) {
      this.main.tracer.record(first); // e.g. who is tracing: written first, before any other host records
      this.main.tracer.flush();
    }
    this.main.startTrace(payloads);
    await Promise.all(this.workers.map((w) => w.control.startTrace(payloads)));
  }

  /** Stops recording everywhere; every record made before it returns has reached the sink. */
  async stopTrace(): Promise<void> {
    const rests = await Promise.all(this.workers.map((w) => w.control.stopTrace()));
    // Batches already posted by the workers arrive before the next turns of the event loop.
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    const sink = this.main.traceSink;
    for (const rest of [...rests, this.main.stopTrace()]) if (rest.length > 0) sink?.(rest);
    this.main.traceSink = undefined;
  }

  /** The main host's tracer, for records the CLI writes itself. */
  get tracer(): Tracer {
    return this.main.tracer;
  }

  async stats(): Promise<HostStats[]> {
    const remote = await Promise.all(this.workers.map((w) => w.control.stats()));
    return [this.main.stats(), ...remote];
  }

  /** Stops every actor on every host, then ends the worker threads. */
  async shutdown(graceMs = 3000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.workers.map((w) => withTimeout(w.control.shutdown(), graceMs).catch(() => undefined)));
    await this.main.shutdown();
    for (const w of this.workers) {
      w.control[Comlink.releaseProxy]();
      await w.worker.terminate();
      await w.exited;
    }
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    promise.then((v) => { clearTimeout(t); resolve(v); }, (e) => { clearTimeout(t); reject(e); });
  });
}
