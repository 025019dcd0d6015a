// `p2p peer`: asks for what is missing (tracker IP, tracker port, own IP, in
// the seed's order), starts the peer topology, and connects standard input
// to the REPL actor. End of input means !sair.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseFlagValue, parseFlags, parseHostPort, parsePort, checkHost, UsageError } from './args';
import { LineInput } from './line-input';
import { messages, type Messages } from './messages';
import { startPeer, type RunningPeer } from '../actors/peer/topology';
import { parseRate, parseSize } from '../core/rate';
import type { PiecePolicy } from '../core/picker';

export const PEER_USAGE = `usage: p2p peer [--tracker HOST:PORT] [--ip OWN_IP] [--port TCP_PORT] [--dir FOLDER]
                [--max-up RATE] [--max-down RATE] [--piece-size SIZE] [--policy NAME]

  --tracker HOST:PORT  the tracker (asked at a prompt when missing)
  --ip OWN_IP          the address other peers use to reach this one (asked when missing)
  --port TCP_PORT      TCP port for other peers (default: any free port)
  --dir FOLDER         folder to share and download into (default: the current folder)
  --max-up RATE        upload limit, e.g. 500KiB/s, 8MiB/s, 4mbit (default: none)
  --max-down RATE      download limit, same units (default: none)
  --piece-size SIZE    piece size for the files this peer shares (default: 256KiB)
  --policy NAME        piece choice: rarest (default, the seed's rule; a limited seed also
                       sends first copies first), random or sequential
  --bind ADDR          address to listen on, when it differs from --ip (e.g. 0.0.0.0 behind NAT)
  --announce-ms N      announce interval in milliseconds (default: 3000, as the seed says)
  --trace FILE         record every message (wire and between actors) into FILE; "-" prints
                       them decoded (NDJSON) on standard error. Read a trace with p2p inspect FILE
  --trace-payloads     record block data too (by default: its length and CRC-32)

After start-up the peer reads commands at the "> " prompt, from a terminal or a pipe:
  !baixar [NAME] | !download [NAME]   download NAME, or every file in the network this peer lacks
  !meus_pedacos  | !pieces            files held, pieces held out of total, and which; rates
  !rastrear ligar|desligar [FILE] | !trace on|off [FILE]   start or stop a trace
  !sair          | !quit              tell the tracker this peer leaves, then exit (also at end of input)
  !ajuda         | !help              the command list
`;

export async function runPeer(argv: string[]): Promise<number> {
  const { flags } = parseFlags(argv, {
    tracker: 'string', ip: 'string', port: 'string', dir: 'string', 'max-up': 'string', 'max-down': 'string', 'piece-size': 'string',
    'announce-ms': 'string', policy: 'string', bind: 'string', trace: 'string', 'trace-payloads': 'boolean', help: 'boolean',
  });
  if (flags.help) {
    process.stdout.write(PEER_USAGE);
    return 0;
  }
  const t = messages();
  const dir = path.resolve(String(flags.dir ?? '.'));
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new UsageError(`--dir: "${dir}" is not a folder`);
  const port = flags.port === undefined ? 0 : parsePort(String(flags.port), '--port', true);
  const maxUp = flags['max-up'] === undefined ? 0 : parseFlagValue('max-up', String(flags['max-up']), parseRate);
  const maxDown = flags['max-down'] === undefined ? 0 : parseFlagValue('max-down', String(flags['max-down']), parseRate);
  const pieceSize = flags['piece-size'] === undefined ? undefined : parseFlagValue('piece-size', String(flags['piece-size']), parseSize);
  const announceIntervalMs = flags['announce-ms'] === undefined ? undefined : Number(flags['announce-ms']);
  if (announceIntervalMs !== undefined && !(Number.isInteger(announceIntervalMs) && announceIntervalMs >= 100)) {
    throw new UsageError('--announce-ms: a whole number of milliseconds, at least 100');
  }
  const policy = (flags.policy ?? 'rarest') as PiecePolicy;
  if (!['rarest', 'random', 'sequential'].includes(policy)) throw new UsageError('--policy: rarest, random or sequential');

  const input = new LineInput();
  let tracker: { host: string; port: number };
  let ownIp: string;
  try {
    tracker = flags.tracker !== undefined
      ? parseHostPort(String(flags.tracker), '--tracker')
      : { host: checkHost(await required(input, t.trackerIpPrompt, t), 'tracker IP'),
          port: parsePort(await required(input, t.peerTrackerPortPrompt, t), 'tracker port') };
    ownIp = checkHost(flags.ip !== undefined ? String(flags.ip) : await required(input, t.ownIpPrompt, t), 'own IP');
  } catch (err) {
    input.close();
    throw err;
  }

  let exit!: (code: number) => void;
  let running: RunningPeer | undefined;
  const exited = new Promise<number>((resolve) => { exit = resolve; });
  // Ctrl+C and SIGTERM mean !sair. Listened for before the peer starts, not after it
  // says "listening": a signal sent the moment that line shows (or during start-up)
  // then still leaves cleanly (the tracker told) instead of killing the process.
  let signalled = false;
  let onSignal = () => { signalled = true; };
  const signal = () => onSignal();
  process.once('SIGINT', signal);
  process.once('SIGTERM', signal);
  const peer = await startPeer({
    trackerHost: tracker.host, trackerPort: tracker.port, ownIp, port, dir, maxUpBytesPerSec: maxUp, maxDownBytesPerSec: maxDown,
    pieceSize, announceIntervalMs, policy, bindHost: flags.bind !== undefined ? String(flags.bind) : undefined,
    trace: flags.trace !== undefined ? { target: String(flags.trace), payloads: !!flags['trace-payloads'] } : undefined,
  }, {
    text: t,
    interactive: input.isTerminal,
    write: (text) => process.stdout.write(text),
    exit: (code) => exit(code),
    trace: {
      start: (target, payloads) => running!.startTrace(target, payloads),
      stop: () => running!.stopTrace(),
      current: () => running?.tracing(),
    },
  }, (ready) => {
    process.stdout.write(t.peerReady(ready.peerIdHex.slice(0, 8), `${ownIp}:${ready.port}`, dir) + '\n');
  }).catch((err: Error) => {
    input.close();
    throw new UsageError(err.message);
  });
  running = peer;
  const toRepl = (text: string) => peer.system.tell(peer.repl, { line: { text } });
  input.stream(toRepl, () => peer.system.tell(peer.repl, { inputClosed: {} }));
  onSignal = () => toRepl('!sair');
  if (signalled) onSignal();
  const code = await exited;
  input.close();
  await peer.stop();
  return code;
}

async function required(input: LineInput, question: string, t: Messages): Promise<string> {
  const answer = await input.ask(question);
  if (answer === undefined) throw new UsageError(t.inputEnded);
  return answer.trim();
}
