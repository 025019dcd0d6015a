// The tracker as a topology on the actor runtime:
//
//   main      Console (prints what happens)
//   net       UdpEndpoint (the socket, connection tokens)
//   registry  Registry (who holds what), ExpiryScheduler (drops silent peers)
import * as path from 'node:path';
import { p2p } from '../../gen/proto';
import { ActorSystem } from '../../runtime';
import type { ExpirySchedulerProps } from './expiry-scheduler';
import type { RegistryProps } from './registry';
import type { UdpEndpointProps } from './udp-endpoint';
import { startTracing, type TraceSession } from '../../trace/trace-session';

export interface TrackerOptions {
  host: string;
  port: number;
  announceIntervalMs?: number;
  onEvent?: (event: p2p.v1.TrackerEvent.$Properties) => void;
  log?: (line: string) => void;
  /** Record every message from the start: a file, or "-" for NDJSON on standard error. */
  trace?: { target: string; payloads: boolean };
}

export interface RunningTracker {
  system: ActorSystem;
  ip: string;
  port: number;
  trace?: TraceSession;
  stop(): Promise<void>;
}

export const DEFAULT_ANNOUNCE_INTERVAL_MS = 3000;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const PACKAGE_VERSION: string = require('../../../../package.json').version;

export async function startTracker(options: TrackerOptions): Promise<RunningTracker> {
  const announceIntervalMs = options.announceIntervalMs ?? DEFAULT_ANNOUNCE_INTERVAL_MS;
  const system = await ActorSystem.start({
    hosts: ['net', 'registry'],
    protocolModule: path.join(__dirname, '..', '..', 'gen', 'proto.js'),
    catalogModules: [path.join(__dirname, 'index.js')],
    log: options.log,
  });
  let trace: TraceSession | undefined;
  try {
    if (options.trace) {
      trace = await startTracing(system, options.trace.target, options.trace.payloads,
        { role: 'tracker', listen: `udp://${options.host}:${options.port}`, version: PACKAGE_VERSION });
    }
  } catch (err) {
    await system.shutdown();
    throw new Error(`cannot trace to ${options.trace!.target}: ${(err as Error).message}`);
  }
  let bound!: (address: { ip: string; port: number }) => void;
  let failed!: (error: Error) => void;
  const ready = new Promise<{ ip: string; port: number }>((resolve, reject) => { bound = resolve; failed = reject; });
  const console = system.spawn<p2p.v1.TrackerEvent.$Properties, object>('tracker.Console', {}, {
    host: 'main',
    resource: {
      onEvent(e: p2p.v1.TrackerEvent.$Properties) {
        if (e.listening) bound({ ip: e.listening.ip ?? options.host, port: e.listening.port ?? 0 });
        else if (e.problem) failed(new Error(e.problem.message ?? 'the tracker could not start'));
        options.onEvent?.(e);
      },
    },
  });
  const registry = system.spawn<p2p.v1.RegistryCommand.$Properties, RegistryProps>('tracker.Registry',
    { announceIntervalMs, console }, { host: 'registry' });
  system.spawn<p2p.v1.ExpirySchedulerCommand.$Properties, ExpirySchedulerProps>('tracker.ExpiryScheduler',
    { registry, intervalMs: announceIntervalMs }, { host: 'registry' });
  system.spawn<p2p.v1.UdpEndpointCommand.$Properties, UdpEndpointProps>('tracker.UdpEndpoint',
    { host: options.host, port: options.port, registry, console, announceIntervalMs }, { host: 'net' });
  try {
    const address = await ready;
    return {
      system, ...address, trace,
      stop: async () => {
        await trace?.stop();
        await system.shutdown();
      },
    };
  } catch (err) {
    await trace?.stop();
    await system.shutdown();
    throw err;
  }
}
