// `p2p lab`: a whole swarm on 127.0.0.1, every peer a real `p2p peer`
// process on the project's runtime with real sockets and its own rate limits:
// a tracker, K seeds and N leechers that all `!baixar` at the same moment. It
// shows progress, then each leecher's completion time against the fluid lower
// bound T_min (Kumar and Ross, 2006), and can write the figures as JSON and a
// self-contained HTML report (completion-time CDF, piece availability over
// time). `--policy` swaps the piece picker so the effect of rarest-first can
// be seen on the same swarm.
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseFlagValue, parseFlags, UsageError } from './args';
import { SpawnedP2p, trackerAddressOf } from './spawned';
import { TrackerProbe } from './tracker-probe';
import { writeLabHtml } from './lab-report';
import { choosePieceSize, contentId, pieceCount } from '../core/manifest';
import { bitfieldFromBytes } from '../core/bitfield';
import { formatBytes, formatRate, parseRate, parseSize } from '../core/rate';
import type { PiecePolicy } from '../core/picker';

export const LAB_USAGE = `usage: p2p lab [--peers N] [--size SIZE] [--up RATE] [--down RATE] [--seed-up RATE]
               [--piece-size SIZE] [--policy rarest|random|sequential] [--seed-count K]
               [--json FILE] [--html FILE] [--dir FOLDER] [--keep] [--logs FOLDER] [--timeout SECONDS]

Runs a swarm on 127.0.0.1: a tracker, K seeds holding one random file, and N
leechers that all start downloading it at the same moment. Every peer is a real
\`p2p peer\` process with its own upload and download limits.

  --peers N          leechers (default: 10)
  --size SIZE        the file's size, e.g. 32MiB (default: 16MiB)
  --up RATE          each leecher's upload limit (default: 1MiB/s)
  --down RATE        each leecher's download limit (default: 10MiB/s)
  --seed-up RATE     each seed's upload limit (default: the same as --up)
  --piece-size SIZE  piece size (default: 256KiB)
  --policy NAME      every peer's piece policy: rarest (default: ask for the rarest piece,
                     and the seed sends first copies first), random, sequential
  --seed-count K     seeds (default: 1)
  --json FILE        write every figure, and piece availability over time, as JSON
  --html FILE        write a self-contained report (CDF, availability, T_min)
  --dir FOLDER       where the peers' folders go (default: a temporary folder, removed after)
  --keep             keep the folders
  --logs FOLDER      save what each process printed, one file per process
  --timeout SECONDS  give up after this long (default: 600)

Figures: T_min = max(F/u_s, N*F/(u_s + N*u), F/d), the time no schedule can beat
(F file size, u_s the seeds' upload, u and d each leecher's upload and download).
`;

export interface LabOptions {
  peers: number;
  sizeBytes: number;
  up: number;
  down: number;
  seedUp: number;
  pieceSize: number;
  policy: PiecePolicy;
  seedCount: number;
  timeoutMs: number;
  dir?: string;
  keep: boolean;
  logs?: string;
  /** Progress and results go here (default: standard output). */
  write?: (text: string) => void;
}

export interface AvailabilitySample {
  /** Seconds since the leechers were told to start. */
  t: number;
  /** Per piece: how many peers the tracker lists as holding it. */
  counts: number[];
}

export interface LabResult {
  options: Omit<LabOptions, 'write'>;
  fileName: string;
  pieceCount: number;
  /** Seconds from the common start to each leecher's complete file (null: did not finish). */
  completion: (number | null)[];
  finished: number;
  meanSeconds: number;
  maxSeconds: number;
  tMinSeconds: number;
  bound: 'seed upload' | 'swarm upload' | 'leecher download';
  maxOverTMin: number;
  meanOverTMin: number;
  allIdentical: boolean;
  /** Bytes the seeds uploaded, in copies of the file (1.0: each piece left a seed once). */
  seedCopiesSent: number;
  availability: AvailabilitySample[];
}

const FILE_NAME = 'lab.bin';

/** The fluid lower bound on the time to give every leecher the whole file. */
export function fluidLowerBound(fileBytes: number, leechers: number, seedUp: number, up: number, down: number):
  { seconds: number; bound: LabResult['bound'] } {
  const terms: [number, LabResult['bound']][] = [
    [fileBytes / seedUp, 'seed upload'],
    [(leechers * fileBytes) / (seedUp + leechers * up), 'swarm upload'],
    [fileBytes / down, 'leecher download'],
  ];
  terms.sort((a, b) => b[0] - a[0]);
  return { seconds: terms[0]![0], bound: terms[0]![1] };
}

export function parseLabFlags(argv: string[]): { options: LabOptions; json?: string; html?: string; help: boolean } {
  const { flags, rest } = parseFlags(argv, {
    peers: 'string', size: 'string', up: 'string', down: 'string', 'seed-up': 'string', 'piece-size': 'string',
    policy: 'string', 'seed-count': 'string', json: 'string', html: 'string', dir: 'string', keep: 'boolean', logs: 'string',
    timeout: 'string', help: 'boolean',
  });
  if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`);
  const int = (name: string, fallback: number, min: number, max: number) => {
    if (flags[name] === undefined) return fallback;
    const n = Number(flags[name]);
    if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name}: a whole number from ${min} to ${max}`);
    return n;
  };
  const rate = (name: string, fallback: string) => parseFlagValue(name, String(flags[name] ?? fallback), parseRate);
  const up = rate('up', '1MiB/s');
  const policy = String(flags.policy ?? 'rarest') as PiecePolicy;
  if (!['rarest', 'random', 'sequential'].includes(policy)) throw new UsageError('--policy: rarest, random or sequential');
  const options: LabOptions = {
    peers: int('peers', 10, 1, 200),
    sizeBytes: parseFlagValue('size', String(flags.size ?? '16MiB'), parseSize),
    up,
    down: rate('down', '10MiB/s'),
    seedUp: flags['seed-up'] === undefined ? up : rate('seed-up', ''),
    pieceSize: parseFlagValue('piece-size', String(flags['piece-size'] ?? '256KiB'), parseSize),
    policy,
    seedCount: int('seed-count', 1, 1, 20),
    timeoutMs: int('timeout', 600, 5, 24 * 3600) * 1000,
    dir: flags.dir === undefined ? undefined : path.resolve(String(flags.dir)),
    keep: !!flags.keep,
    logs: flags.logs === undefined ? undefined : path.resolve(String(flags.logs)),
  };
  if (options.sizeBytes > 4 * 1024 ** 3) throw new UsageError('--size: at most 4GiB');
  return { options, json: flags.json as string | undefined, html: flags.html as string | undefined, help: !!flags.help };
}

export async function runLab(argv: string[]): Promise<number> {
  const { options, json, html, help } = parseLabFlags(argv);
  if (help) {
    process.stdout.write(LAB_USAGE);
    return 0;
  }
  const result = await runSwarmLab(options);
  if (json) fs.writeFileSync(json, JSON.stringify(result, null, 1) + '\n');
  if (html) writeLabHtml(html, result);
  if (json || html) process.stdout.write(`report: ${[json, html].filter(Boolean).join(', ')}\n`);
  return result.finished === options.peers && result.allIdentical ? 0 : 1;
}

export async function runSwarmLab(options: LabOptions): Promise<LabResult> {
  const write = options.write ?? ((text: string) => process.stdout.write(text));
  const root = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'enxame-lab-'));
  fs.mkdirSync(root, { recursive: true });
  const procs: SpawnedP2p[] = [];
  if (options.logs) fs.mkdirSync(options.logs, { recursive: true });
  let logClock = Date.now(); // log lines carry seconds since the download started (negative before)
  const spawnP2p = (name: string, args: string[]) => {
    const log = options.logs ? fs.createWriteStream(path.join(options.logs, `${name}.log`)) : undefined;
    const p = new SpawnedP2p(name, args, log ? { onLine: (l) => log.write(`${((Date.now() - logClock) / 1000).toFixed(3)} ${l}\n`) } : {});
    if (log) void p.exited.then(() => log.end());
    procs.push(p);
    return p;
  };
  let probe: TrackerProbe | undefined;
  let sampler: NodeJS.Timeout | undefined;
  try {
    const n = options.peers;
    write(`lab: ${n} leecher(s), ${options.seedCount} seed(s), ${formatBytes(options.sizeBytes)}, pieces ${formatBytes(options.pieceSize)}, ` +
      `up ${formatRate(options.up)}, down ${formatRate(options.down)}, seed up ${formatRate(options.seedUp)}, policy ${options.policy}\n`);
    const file = makeFile(options.sizeBytes, options.pieceSize);
    const seedDirs = Array.from({ length: options.seedCount }, (_, i) => path.join(root, `seed${i + 1}`));
    for (const d of seedDirs) {
      fs.mkdirSync(d, { recursive: true });
      fs.writeFileSync(path.join(d, FILE_NAME), file.data);
    }
    const tracker = spawnP2p('tracker', ['tracker', '--host', '127.0.0.1', '--port', '0']);
    const { address, port } = await trackerAddressOf(tracker);
    const peerArgs = (dir: string, extra: string[]) =>
      ['peer', '--tracker', address, '--ip', '127.0.0.1', '--dir', dir, '--piece-size', String(options.pieceSize), ...extra];
    for (const [i, d] of seedDirs.entries()) {
      spawnP2p(`seed${i + 1}`, peerArgs(d, ['--max-up', String(options.seedUp), '--policy', options.policy]));
    }
    const leechers: SpawnedP2p[] = [];
    for (let i = 0; i < n; i++) {
      const d = path.join(root, `peer${i + 1}`);
      fs.mkdirSync(d, { recursive: true });
      leechers.push(spawnP2p(`peer${i + 1}`, peerArgs(d, ['--max-up', String(options.up), '--max-down', String(options.down), '--policy', options.policy])));
    }
    const deadline = Date.now() + options.timeoutMs;
    const left = () => Math.max(1000, deadline - Date.now());
    await Promise.all(procs.slice(1).map((p) => p.waitFor(/listening on tcp:\/\//, left())));
    // Every seed must be in the tracker's map before the clock starts.
    probe = new TrackerProbe('127.0.0.1', port);
    while ((await probe.swarm(file.id)).peers.filter((p) => p.complete).length < options.seedCount) {
      if (Date.now() > deadline) throw new Error('the seeds did not reach the tracker in time');
      await sleep(200);
    }
    write(`all ${procs.length - 1} peers up; starting the download now\n`);

    const startedAt = Date.now();
    logClock = startedAt;
    const seconds = () => (Date.now() - startedAt) / 1000;
    const completion: (number | null)[] = new Array(n).fill(null);
    const progress: number[] = new Array(n).fill(0);
    const availabilitySamples: AvailabilitySample[] = [];
    const sample = async () => {
      try {
        const view = await probe!.swarm(file.id);
        const counts = new Array<number>(file.pieces).fill(0);
        for (const p of view.peers) {
          const have = bitfieldFromBytes(file.pieces, p.have ?? undefined, !!p.complete);
          for (let i = 0; i < file.pieces; i++) if (have.has(i)) counts[i]!++;
        }
        availabilitySamples.push({ t: Number(seconds().toFixed(2)), counts });
      } catch {
        // a lost datagram: the next sample will do
      }
    };
    await sample();
    sampler = setInterval(() => void sample(), 1000);
    const finished = leechers.map(async (p, i) => {
      const done = p.waitFor((l) => {
        const m = /lab\.bin: \[[#.]*\]\s+\d+% (\d+)\/(\d+)/.exec(l);
        if (m) progress[i] = Number(m[1]) / Number(m[2]);
        return new RegExp(`${FILE_NAME} (complete|completo) `).test(l) || new RegExp(`${FILE_NAME}: (failed|falhou)`).test(l);
      }, left());
      p.send(`!baixar ${FILE_NAME}`);
      const line = await done.catch(() => '');
      if (/complete|completo/.test(line)) {
        completion[i] = seconds();
        progress[i] = 1;
      }
    });
    const ticker = setInterval(() => {
      const done = completion.filter((c) => c !== null).length;
      const mean = progress.reduce((a, b) => a + b, 0) / n;
      write(`  ${seconds().toFixed(1).padStart(6)} s  ${bar(mean)} ${(mean * 100).toFixed(0).padStart(3)}%  ${done}/${n} done\n`);
    }, 2000);
    await Promise.all(finished);
    clearInterval(ticker);
    clearInterval(sampler);
    await sample();

    const allIdentical = leechers.every((_, i) => {
      const f = path.join(root, `peer${i + 1}`, FILE_NAME);
      return fs.existsSync(f) && sha256File(f) === file.sha256;
    });
    // How many copies of the file the seeds sent: 1.0 is the ideal.
    let seedBytesUp = 0;
    for (const seed of procs.slice(1, 1 + options.seedCount)) {
      seed.send('!meus_pedacos');
      const line = await seed.waitFor(/(traffic|tráfego): /, 10_000).catch(() => '');
      const m = /\(limit[^,]*, ([\d.]+) (B|KiB|MiB|GiB) in all\)|\(limite[^,]*, ([\d.]+) (B|KiB|MiB|GiB) no total\)/.exec(line);
      if (m) seedBytesUp += Number(m[1] ?? m[3]) * { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 }[(m[2] ?? m[4]) as 'B']!;
    }
    const result = summarize(options, file.pieces, completion, availabilitySamples, allIdentical, seedBytesUp);
    write(formatLabResult(result));
    await Promise.all(procs.slice(1).map((p) => p.quit('!sair', 5000)));
    return result;
  } finally {
    if (sampler) clearInterval(sampler);
    probe?.close();
    for (const p of procs) p.kill('SIGKILL');
    await Promise.all(procs.map((p) => p.exited));
    if (!options.dir && !options.keep) fs.rmSync(root, { recursive: true, force: true });
  }
}

function summarize(options: LabOptions, pieces: number, completion: (number | null)[], availability: AvailabilitySample[],
  allIdentical: boolean, seedBytesUp: number): LabResult {
  const times = completion.filter((c): c is number => c !== null);
  const mean = times.length ? times.reduce((a, b) => a + b, 0) / times.length : NaN;
  const max = times.length ? Math.max(...times) : NaN;
  const bound = fluidLowerBound(options.sizeBytes, options.peers, options.seedUp * options.seedCount, options.up, options.down);
  const { write: _write, ...plain } = options;
  return {
    options: plain, fileName: FILE_NAME, pieceCount: pieces, completion: completion.map((c) => (c === null ? null : round3(c))),
    finished: times.length, meanSeconds: round3(mean), maxSeconds: round3(max), tMinSeconds: round3(bound.seconds), bound: bound.bound,
    maxOverTMin: round3(max / bound.seconds), meanOverTMin: round3(mean / bound.seconds), allIdentical,
    seedCopiesSent: round3(seedBytesUp / options.sizeBytes), availability,
  };
}

export function formatLabResult(r: LabResult): string {
  const lines = ['', 'completion times (s, from the common start):'];
  r.completion.forEach((c, i) => lines.push(`  peer${i + 1}: ${c === null ? 'did not finish' : c.toFixed(2)}`));
  lines.push(
    `finished: ${r.finished}/${r.completion.length}, files ${r.allIdentical ? 'byte-identical to the seed' : 'NOT all identical'}`,
    `mean ${r.meanSeconds.toFixed(2)} s, max ${r.maxSeconds.toFixed(2)} s`,
    `T_min = max(F/u_s, N*F/(u_s+N*u), F/d) = ${r.tMinSeconds.toFixed(2)} s (bound: ${r.bound})`,
    `max/T_min = ${r.maxOverTMin.toFixed(3)}, mean/T_min = ${r.meanOverTMin.toFixed(3)}`,
    `the seed(s) uploaded ${r.seedCopiesSent.toFixed(2)} copies of the file (1.00 is the least possible)`, '');
  return lines.join('\n');
}

function makeFile(size: number, preferredPieceSize: number): { data: Buffer; id: Uint8Array; pieces: number; sha256: string } {
  const data = randomBytes(size);
  const pieceSize = choosePieceSize(size, preferredPieceSize);
  const pieceHashes: Uint8Array[] = [];
  for (let at = 0; at < size; at += pieceSize) pieceHashes.push(createHash('sha256').update(data.subarray(at, at + pieceSize)).digest());
  const id = contentId({ name: FILE_NAME, size, pieceSize, pieceHashes });
  return { data, id, pieces: pieceCount(size, pieceSize), sha256: createHash('sha256').update(data).digest('hex') };
}

function sha256File(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

function bar(fraction: number, width = 24): string {
  const full = Math.round(Math.max(0, Math.min(1, fraction)) * width);
  return `[${'#'.repeat(full)}${'.'.repeat(width - full)}]`;
}

const round3 = (x: number) => (Number.isFinite(x) ? Number(x.toFixed(3)) : x);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
