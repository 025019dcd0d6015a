// Entry point of a worker-thread host. The control plane (connect to other
// hosts, spawn, stats, shutdown) is exposed to the main thread with comlink;
// the data plane is the MessagePorts handed over by `connect`.
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { enableCompileCache } from './compile-cache';
import type { HostWorkerData, HostControl } from './catalog';

const data = workerData as HostWorkerData;
// Before anything else loads, so that it loads from the code cache too.
enableCompileCache(`host-${data.hostNames[data.index]}`);
/* eslint-disable @typescript-eslint/no-require-imports */
const Comlink = require('comlink') as typeof import('comlink');
const nodeEndpoint = require('comlink/dist/umd/node-adapter') as typeof import('comlink/dist/umd/node-adapter').default; // UMD: the function itself
const { HostRuntime } = require('./host') as typeof import('./host');
const { loadCatalog } = require('./catalog') as typeof import('./catalog');
/* eslint-enable @typescript-eslint/no-require-imports */
const { registry, behaviors } = loadCatalog(data.protocolModule, data.catalogModules);
const host = new HostRuntime(data.index, data.hostNames, registry, behaviors);

// An error that escapes an actor's own handlers (an I/O callback, say) must not
// take the other actors on this thread down with it.
process.on('uncaughtException', (err) => {
  host.log(`[runtime] ${host.name}: uncaught error outside any mailbox: ${err.stack ?? err.message}`);
});
process.on('unhandledRejection', (reason) => {
  host.log(`[runtime] ${host.name}: unhandled rejection: ${String((reason as Error)?.stack ?? reason)}`);
});

const control: HostControl = {
  connect(hostIndex: number, port: MessagePort) {
    host.connect(hostIndex, port);
  },
  spawn(behavior: string, propsJson: string) {
    return host.spawn(behavior, JSON.parse(propsJson));
  },
  stats() {
    return host.stats();
  },
  async shutdown() {
    await host.shutdown();
  },
  startTrace(payloads: boolean) {
    host.startTrace(payloads);
  },
  stopTrace() {
    return host.stopTrace();
  },
};

Comlink.expose(control, nodeEndpoint(parentPort!));
