// What a host needs to know to run actors: the protobuf types (a generated
// module) and the behaviours it may be asked to spawn (catalog modules, each
// exporting `behaviors`). Paths, not objects, so worker threads can load them.
import type { MessagePort } from 'node:worker_threads';
import { TypeRegistry } from './type-registry';
import type { Behavior } from './types';
import type { HostStats } from './host';
import type { ActorRef } from './types';

export interface HostWorkerData {
  index: number;
  hostNames: string[];
  protocolModule: string;
  catalogModules: string[];
}

/** The control plane of a worker host, called through comlink. */
export interface HostControl {
  connect(hostIndex: number, port: MessagePort): void;
  spawn(behavior: string, propsJson: string): ActorRef;
  stats(): HostStats;
  shutdown(): Promise<void>;
  startTrace(payloads: boolean): void;
  stopTrace(): Uint8Array;
}

export function loadCatalog(protocolModule: string, catalogModules: readonly string[]): {
  registry: TypeRegistry; behaviors: Behavior<any, any>[];
} {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const registry = TypeRegistry.fromNamespace(require(protocolModule));
  const behaviors = catalogModules.flatMap((m) => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(m) as { behaviors?: Behavior<any, any>[] };
    if (!Array.isArray(mod.behaviors)) throw new Error(`catalog module ${m} exports no "behaviors" array`);
    return mod.behaviors;
  });
  return { registry, behaviors };
}
