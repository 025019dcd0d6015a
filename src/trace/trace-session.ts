// Starting and stopping a trace of a running program: every host's records go
// to one file (delimited TraceRecords) or, for "-", to standard error as
// decoded NDJSON.
import type { ActorSystem } from '../runtime';
import type { p2p } from '../gen/proto';
import { TraceFileWriter, readTraceRecords } from './trace-file';

export interface TraceSession {
  readonly target: string;
  stop(): Promise<void>;
}

export async function startTracing(system: ActorSystem, target: string, payloads: boolean,
  started: p2p.v1.TraceStarted.$Properties): Promise<TraceSession> {
  let sink: (records: Uint8Array) => void;
  let close = () => undefined as void;
  if (target === '-') {
    // Loaded only here: it needs protobufjs's reflection, which a peer that
    // never traces to the terminal does not load at start.
    const { ActorNames, describe, toJson } = await import('./describe');
    const names = new ActorNames();
    sink = (records) => {
      for (const r of readTraceRecords(records).records) {
        names.learn(r);
        process.stderr.write(JSON.stringify(toJson(describe(r), names)) + '\n');
      }
    };
  } else {
    const writer = new TraceFileWriter(target); // throws a clear error when the file cannot be created
    sink = (records) => writer.write(records);
    close = () => writer.close();
  }
  await system.startTrace(sink, payloads, { started: { ...started, payloads } });
  let stopped = false;
  return {
    target,
    async stop() {
      if (stopped) return;
      stopped = true;
      await system.stopTrace();
      close();
    },
  };
}
