// Where a peer's actors run: its worker-thread hosts and the code they load.
// Kept apart from the topology (and light: it loads only the worker booter)
// so that bin/p2p.js can start the worker before it loads anything else.
import * as path from 'node:path';
import { prestartWorkers } from '../../runtime/worker-boot';

export const PEER_HOSTS = ['swarm'] as const;

export function runtimePaths(): { protocolModule: string; catalogModules: string[] } {
  return {
    protocolModule: path.join(__dirname, '..', '..', 'gen', 'proto.js'),
    catalogModules: [path.join(__dirname, 'index.js')],
  };
}

/** Has the peer's worker thread boot now, for the startPeer to come (see prestartWorkers). */
export function prestartPeer(): void {
  prestartWorkers({ hosts: [...PEER_HOSTS], ...runtimePaths() });
}
