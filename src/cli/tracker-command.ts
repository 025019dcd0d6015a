// `p2p tracker`: asks for the IP and port when they are not given (in the
// seed's order), starts the tracker topology, and prints who joins and
// leaves until SIGINT or SIGTERM.
import { parseFlags, parsePort, checkHost, UsageError } from './args';
import { LineInput } from './line-input';
import { messages } from './messages';
import { startTracker } from '../actors/tracker/topology';
import { hex } from '../core/hex';

export const TRACKER_USAGE = `usage: p2p tracker [--host HOST] [--port PORT] [--interval-ms N] [--trace FILE]

  --host HOST   address to listen on, e.g. 192.168.0.10 or 0.0.0.0 (asked when missing)
  --port PORT   UDP port, e.g. 9090; 0 picks a free port (asked when missing)
  --interval-ms N  the announce interval peers are told (default: 3000); silent for 3 intervals = gone
  --trace FILE  record every message (UDP datagrams and between actors) into FILE;
                "-" prints them decoded (NDJSON) on standard error. Read it with p2p inspect FILE
`;

export async function runTracker(argv: string[]): Promise<number> {
  const { flags } = parseFlags(argv, { host: 'string', port: 'string', 'interval-ms': 'string', trace: 'string', 'trace-payloads': 'boolean', help: 'boolean' });
  if (flags.help) {
    process.stdout.write(TRACKER_USAGE);
    return 0;
  }
  const t = messages();
  let host: string;
  let port: number;
  const input = flags.host === undefined || flags.port === undefined ? new LineInput() : undefined;
  try {
    const ask = async (question: string) => {
      const answer = await input!.ask(question);
      if (answer === undefined) throw new UsageError(t.inputEnded);
      return answer.trim();
    };
    host = checkHost(flags.host !== undefined ? String(flags.host) : await ask(t.trackerIpPrompt), 'tracker IP');
    port = parsePort(flags.port !== undefined ? String(flags.port) : await ask(t.trackerPortPrompt), 'tracker port', true);
  } finally {
    input?.close();
  }
  const intervalMs = flags['interval-ms'] === undefined ? undefined : Number(flags['interval-ms']);
  if (intervalMs !== undefined && !(Number.isInteger(intervalMs) && intervalMs >= 100)) {
    throw new UsageError('--interval-ms: a whole number of milliseconds, at least 100');
  }
  const short = (id: Uint8Array | null | undefined) => hex(id ?? new Uint8Array(0)).slice(0, 8);
  // Listening for Ctrl+C and SIGTERM before starting, not after saying "listening": a
  // signal sent the moment that line shows (or during start-up) stops the tracker
  // cleanly instead of killing it outright.
  const stopAsked = new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  const tracker = await startTracker({
    host, port, announceIntervalMs: intervalMs,
    trace: flags.trace !== undefined ? { target: String(flags.trace), payloads: !!flags['trace-payloads'] } : undefined,
    onEvent(e) {
      if (e.peerJoined) {
        const j = e.peerJoined;
        process.stdout.write(t.peerJoined(short(j.peerId), `${j.ip}:${j.port}`, j.fileCount ?? 0) + '\n');
      } else if (e.peerLeft) {
        process.stdout.write(t.peerLeft(short(e.peerLeft.peerId), e.peerLeft.reason ?? '') + '\n');
      }
    },
  }).catch((err: Error) => {
    throw new UsageError(err.message);
  });
  const shown = tracker.ip.includes(':') ? `[${tracker.ip}]` : tracker.ip;
  process.stdout.write(t.trackerListening(`${shown}:${tracker.port}`) + '\n');
  await stopAsked;
  await tracker.stop();
  return 0;
}
