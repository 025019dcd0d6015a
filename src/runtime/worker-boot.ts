// Booting the worker threads of an actor system, ahead of time when asked:
// this module loads nothing else, so a program can start its workers first
// thing and load the rest of its code while they boot.
import { Worker } from 'node:worker_threads';
import * as path from 'node:path';
import type { HostWorkerData } from './catalog';

/** What ActorSystem.start needs to know to start its workers. */
export interface WorkerHostsOptions {
  /** Worker-thread hosts to start; the main thread is host 0, named "main". */
  hosts: string[];
  /** Absolute path of the generated protobuf module. */
  protocolModule: string;
  /** Absolute paths of modules exporting `behaviors`. */
  catalogModules: string[];
}

/** A worker thread started ahead of the system that will take it (see prestartWorkers). */
export interface BootingWorker {
  worker: Worker;
  exited: Promise<void>;
  /** Stops holding the errors it raises, and hands over those it raised so far. */
  takeErrors(): Error[];
}

const HOST_WORKER = path.join(__dirname, 'host-worker.js');
const booting = new Map<string, BootingWorker>();

export function workerDataOf(options: WorkerHostsOptions): HostWorkerData[] {
  const hostNames = ['main', ...options.hosts];
  return options.hosts.map((_name, i) => ({
    index: i + 1, hostNames, protocolModule: options.protocolModule, catalogModules: options.catalogModules,
  }));
}

function bootWorker(data: HostWorkerData): BootingWorker {
  const worker = new Worker(HOST_WORKER, { workerData: data });
  // An 'error' event nobody listens to would throw: held until the system can log them.
  const errors: Error[] = [];
  const hold = (err: Error) => errors.push(err);
  worker.on('error', hold);
  return {
    worker,
    exited: new Promise<void>((resolve) => worker.once('exit', () => resolve())),
    takeErrors: () => { worker.off('error', hold); return errors.splice(0); },
  };
}

/**
 * Starts the worker threads of a system before the caller loads the rest of
 * its code; ActorSystem.start with the same options takes them. A worker takes
 * about 35 ms to boot and as long again to load its actors, and a peer's first
 * block waits for both, while the main thread's own loading can go beside
 * them. Until taken they do not keep the process alive: a program that ends
 * sooner (a usage error, --help) just ends.
 */
export function prestartWorkers(options: WorkerHostsOptions): void {
  for (const data of workerDataOf(options)) {
    const key = JSON.stringify(data);
    if (booting.has(key)) continue;
    const early = bootWorker(data);
    early.worker.unref();
    booting.set(key, early);
  }
}

/** The worker prestarted for this very data (taken at most once), or a new one. */
export function takeWorker(data: HostWorkerData): BootingWorker {
  const key = JSON.stringify(data);
  const early = booting.get(key);
  booting.delete(key);
  if (!early) return bootWorker(data);
  early.worker.ref();
  return early;
}
