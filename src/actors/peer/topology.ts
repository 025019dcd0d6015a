// The peer as a topology on the actor runtime, declared as data: which actor
// runs on which host, and how they are wired.
//
//   main    Repl (reads commands, shows progress)
//   swarm   TcpEndpoint + one PeerConnection per socket, TrackerClient (UDP),
//           PieceStore (the folder; hashing and writes on a piscina pool),
//           Heartbeat (announce every 3 s), one DownloadSession per download
//
// Every actor that touches a piece shares one worker thread: a piece then goes
// from its connection to the store to the hashing pool without crossing
// between isolates, and each message a piece causes (written, verified, the
// next fetch) is a call on the same thread, not a postMessage. Measured side
// by side on the loopback pair (256 MiB): three worker hosts (net, store,
// sessions) spent 2.32 CPU seconds in the leecher, this one 1.73. The REPL
// stays on the main thread, so a busy swarm never slows typing.
import { randomBytes } from 'node:crypto';
import type { p2p } from '../../gen/proto';
import type { ActorRef } from '../../runtime';
import { ActorSystem } from '../../runtime/system';
import { PEER_HOSTS, runtimePaths } from './layout';
import type { PiecePolicy } from '../../core/picker';
import type { HeartbeatProps } from './heartbeat';
import type { PieceStoreProps } from './piece-store';
import type { ReplConsole, ReplProps } from './repl';
import type { TcpEndpointProps } from './tcp-endpoint';
import type { TrackerClientProps } from './tracker-client';
import type { TraceSession } from '../../trace/trace-session';

export const ANNOUNCE_INTERVAL_MS = 3000;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const PACKAGE_VERSION: string = require('../../../../package.json').version;

export interface PeerOptions {
  trackerHost: string;
  trackerPort: number;
  ownIp: string;
  port: number;
  dir: string;
  bindHost?: string;
  announceIntervalMs?: number;
  maxUpBytesPerSec?: number;
  maxDownBytesPerSec?: number;
  pieceSize?: number;
  policy?: PiecePolicy;
  log?: (line: string) => void;
  /** Record every message from the start: a file, or "-" for NDJSON on standard error. */
  trace?: { target: string; payloads: boolean };
}

export interface RunningPeer {
  system: ActorSystem;
  peerIdHex: string;
  port: number;
  repl: ActorRef<p2p.v1.ReplCommand.$Properties>;
  /** Starts a trace (stopping the one running, if any). */
  startTrace(target: string, payloads: boolean): Promise<void>;
  /** Stops the running trace; returns where it went. */
  stopTrace(): Promise<string | undefined>;
  tracing(): string | undefined;
  stop(): Promise<void>;
}

/** Starts the peer; `onReady` runs once it listens, before the REPL shows its prompt. */
export async function startPeer(options: PeerOptions, console: ReplConsole,
  onReady: (peer: { peerIdHex: string; port: number }) => void = () => undefined): Promise<RunningPeer> {
  // The system first: its worker boots (if bin/p2p.js has not started it already) while this thread loads the rest.
  const system = await ActorSystem.start({ hosts: [...PEER_HOSTS], ...runtimePaths(), log: options.log });
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { p2p: pb } = require('../../gen/proto') as typeof import('../../gen/proto'); // loaded by the system by now
  let trace: TraceSession | undefined;
  const peerIdHex = randomBytes(16).toString('hex');
  const startTrace = async (target: string, payloads: boolean) => {
    await trace?.stop();
    trace = undefined;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { startTracing } = require('../../trace/trace-session') as typeof import('../../trace/trace-session');
    trace = await startTracing(system, target, payloads, { role: 'peer', peerId: Buffer.from(peerIdHex, 'hex'), version: PACKAGE_VERSION });
  };
  const stopTrace = async () => {
    const target = trace?.target;
    await trace?.stop();
    trace = undefined;
    return target;
  };
  try {
    if (options.trace) {
      await startTrace(options.trace.target, options.trace.payloads).catch((err: Error) => {
        throw new Error(`cannot trace to ${options.trace!.target}: ${err.message}`);
      });
    }
    const peerKeyHex = randomBytes(32).toString('hex');
    const store = system.spawn<p2p.v1.StoreCommand.$Properties, PieceStoreProps>('peer.PieceStore',
      { dir: options.dir, pieceSize: options.pieceSize }, { host: 'swarm' });
    const endpoint = system.spawn<p2p.v1.TcpEndpointCommand.$Properties, TcpEndpointProps>('peer.TcpEndpoint', {
      bindHost: options.bindHost ?? options.ownIp, port: options.port, peerIdHex, store,
      maxUpBytesPerSec: options.maxUpBytesPerSec ?? 0, maxDownBytesPerSec: options.maxDownBytesPerSec ?? 0, policy: options.policy,
    }, { host: 'swarm' });
    const address = await system.ask(endpoint, { getAddress: {} }, pb.v1.EndpointAddress, 10_000);
    if (!address.port) {
      throw new Error(`${address.error || 'cannot listen for peers'}` +
        (options.bindHost ? '' : ' (if OWN_IP is not an address of this machine, e.g. behind NAT, add --bind 0.0.0.0)'));
    }
    const tracker = system.spawn<p2p.v1.TrackerClientCommand.$Properties, TrackerClientProps>('peer.TrackerClient', {
      trackerHost: options.trackerHost, trackerPort: options.trackerPort, peerIdHex, peerKeyHex,
    }, { host: 'swarm' });
    const heartbeat = system.spawn<p2p.v1.HeartbeatCommand.$Properties, HeartbeatProps>('peer.Heartbeat', {
      store, tracker, ip: options.ownIp, port: address.port, intervalMs: options.announceIntervalMs ?? ANNOUNCE_INTERVAL_MS,
    }, { host: 'swarm' });
    onReady({ peerIdHex, port: address.port });
    const repl = system.spawn<p2p.v1.ReplCommand.$Properties, ReplProps>('peer.Repl', {
      store, tracker, endpoint, heartbeat, sessionsHost: 'swarm', policy: options.policy,
    }, { host: 'main', resource: console });
    return {
      system, peerIdHex, port: address.port, repl, startTrace, stopTrace, tracing: () => trace?.target,
      stop: async () => {
        await stopTrace();
        await system.shutdown();
      },
    };
  } catch (err) {
    await stopTrace();
    await system.shutdown();
    throw err;
  }
}
