// `npm run bench:tracker`: how many announces per second the tracker answers,
// how fast, and how much memory a large swarm takes. The tracker runs pinned
// to CPU 0, the closed-loop load generator (bench/tracker-load-generator.ts)
// pinned to CPU 1, so each has one core. For every swarm (1,000 and 10,000
// peers, 1,000 and 10,000 pieces) a fresh tracker is started, the swarm is
// filled, then random peers announce for --seconds; the tracker's resident
// memory is read from /proc with the whole swarm registered. The same
// generator then drives reference trackers that speak BEP 15
// (bittorrent-tracker from npm, Debian's opentracker) when they are installed
// (../shared/bench/setup-anchors.sh), and the ratios are printed.
//
//   node dist/bench/tracker-load.js [--seconds 10] [--concurrency 64] [--quick]
//                                   [--skip-references] [--out FOLDER]
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { P2P_BIN, cpuSeconds, peakRssBytes, rssBytes } from '../src/cli/spawned';
import { benchFlags, writeJson } from './report';
import { bep15InfoHash, type LoadConfig, type LoadResult } from './tracker-load-generator';

const ROOT = path.join(__dirname, '..', '..');
const ANCHORS = process.env.ANCHORS_DIR ?? '/tmp/enxame-anchors';
const GENERATOR = path.join(__dirname, 'tracker-load-generator.js');
const say = (line: string) => process.stdout.write(line + '\n');
/** A generator this busy (CPU seconds per second) was the bottleneck, not the tracker. */
const GENERATOR_BOUND = 0.95;

/** BEP 15 announces carry no piece map: the reference swarms are compared with ours at this many pieces. */
const REFERENCE_PIECES = 1000;

type TrackerKind = 'p2p' | 'bittorrent-tracker' | 'opentracker';

interface Row {
  tracker: TrackerKind;
  workload: LoadConfig['workload'];
  peers: number;
  pieces: number;
  result: LoadResult;
  /** Resident memory of the tracker just started, before any peer. */
  trackerIdleRssMiB: number;
  trackerRssMiB: number;
  trackerPeakRssMiB: number;
  /** CPU seconds of the tracker per wall second over the whole run (its core is 1.0). */
  trackerCpuShare: number;
}

/** A tracker process pinned to CPU 0, and where it listens. */
interface RunningTracker {
  child: ChildProcess;
  port: number;
  output: string[];
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** bittorrent-tracker's server, UDP only, on 127.0.0.1 (a script written next to the anchors). */
function bittorrentTrackerScript(): string {
  const file = path.join(ANCHORS, 'enxame-bittorrent-tracker-server.mjs');
  fs.writeFileSync(file, [
    "import { Server } from 'bittorrent-tracker'",
    'const port = Number(process.argv[2])',
    'const server = new Server({ udp: true, http: false, ws: false, stats: false, interval: 60000 })',
    "server.on('error', (err) => { console.error(err.message); process.exit(1) })",
    "server.on('warning', () => {})",
    "server.listen({ udp: port }, { udp: '127.0.0.1' }, () => console.log(`listening udp://127.0.0.1:${port}`))",
    '',
  ].join('\n'));
  return file;
}

function opentrackerWhitelist(): string {
  const file = path.join(os.tmpdir(), 'enxame-opentracker-whitelist.txt');
  fs.writeFileSync(file, `${bep15InfoHash(REFERENCE_PIECES).toString('hex')}\n`);
  return file;
}

async function startTracker(kind: TrackerKind): Promise<RunningTracker> {
  const port = await freePort();
  const command: Record<TrackerKind, string[]> = {
    'p2p': [process.execPath, P2P_BIN, 'tracker', '--host', '127.0.0.1', '--port', String(port), '--interval-ms', '60000'],
    'bittorrent-tracker': [process.execPath, bittorrentTrackerScript(), String(port)],
    // Debian builds it as a closed tracker: the swarm's info hash goes on its whitelist.
    'opentracker': ['opentracker', '-i', '127.0.0.1', '-p', String(port), '-P', String(port), '-w', opentrackerWhitelist()],
  };
  const child = spawn('taskset', ['-c', '0', ...command[kind]], {
    stdio: ['pipe', 'pipe', 'pipe'], cwd: kind === 'bittorrent-tracker' ? ANCHORS : ROOT,
  });
  const output: string[] = [];
  for (const stream of [child.stdout!, child.stderr!]) stream.setEncoding('utf8').on('data', (t: string) => output.push(t));
  // Ready when the UDP port answers to the kernel as bound.
  const deadline = Date.now() + 15_000;
  while (!udpBound(port)) {
    if (child.exitCode !== null) throw new Error(`${kind} exited: ${output.join('').trim()}`);
    if (Date.now() > deadline) throw new Error(`${kind} did not listen on udp ${port}: ${output.join('').trim()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, port, output };
}

/** True when some process has UDP port `port` bound on 127.0.0.1 (from /proc/net/udp). */
function udpBound(port: number): boolean {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  return fs.readFileSync('/proc/net/udp', 'utf8').split('\n').some((l) => l.includes(`0100007F:${hexPort} `));
}

function memoryMiB(pid: number): { rss: number; peak: number } {
  const mib = (bytes: number | undefined) => Math.round((bytes ?? NaN) / 2 ** 20);
  return { rss: mib(rssBytes(pid)), peak: mib(peakRssBytes(pid)) };
}

async function stop(t: RunningTracker): Promise<void> {
  if (t.child.exitCode !== null) return;
  const exited = new Promise((r) => t.child.once('exit', r));
  t.child.kill('SIGTERM');
  const timer = setTimeout(() => t.child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

async function measure(kind: TrackerKind, config: LoadConfig): Promise<Row> {
  const tracker = await startTracker(kind);
  try {
    const idle = memoryMiB(tracker.child.pid!);
    const cpu0 = cpuSeconds(tracker.child.pid!) ?? 0;
    const t0 = Date.now();
    const gen = spawnSync('taskset', ['-c', '1', process.execPath, GENERATOR, JSON.stringify({ ...config, port: tracker.port })], {
      encoding: 'utf8', timeout: (config.seconds + 120) * 1000, maxBuffer: 16 * 1024 * 1024,
    });
    if (gen.status !== 0) throw new Error(`load generator failed: ${(gen.stderr || gen.error?.message || '').trim()}`);
    const cpuShare = ((cpuSeconds(tracker.child.pid!) ?? 0) - cpu0) / ((Date.now() - t0) / 1000);
    const memory = memoryMiB(tracker.child.pid!);
    const result = JSON.parse(gen.stdout) as LoadResult;
    return {
      tracker: kind, workload: config.workload, peers: config.peers, pieces: config.pieces, result,
      trackerIdleRssMiB: idle.rss, trackerRssMiB: memory.rss, trackerPeakRssMiB: memory.peak, trackerCpuShare: Number(cpuShare.toFixed(2)),
    };
  } finally {
    await stop(tracker);
  }
}

function describe(r: Row): string {
  const l = r.result.latencyMs;
  const what = r.workload === 'query' ? `swarm-map pages/s (of ${r.result.pageCount})` : 'announces/s';
  const errors = Object.entries(r.result.errors).map(([m, n]) => `${n}x "${m}"`).join(', ');
  return `${r.tracker.padEnd(18)} ${String(r.peers).padStart(6)} peers ${String(r.pieces).padStart(6)} pieces: ` +
    `${String(r.result.perSecond).padStart(6)} ${what}, latency ms p50 ${l.p50} p90 ${l.p90} p99 ${l.p99} max ${l.max}; ` +
    `RSS ${r.trackerRssMiB} MiB (idle ${r.trackerIdleRssMiB}, peak ${r.trackerPeakRssMiB}), tracker CPU ${r.trackerCpuShare}, generator CPU ${r.result.generatorCpuShare}; ` +
    `swarm ${r.result.swarmSize}, request ${r.result.requestBytes} B, reply ${r.result.replyBytes} B` +
    (r.result.lost ? `, ${r.result.lost} lost` : '') + (errors ? `, errors: ${errors}` : '') +
    (r.result.generatorCpuShare >= GENERATOR_BOUND ? ' (the generator was the limit: a lower bound)' : '');
}

function installed(kind: TrackerKind): boolean {
  if (kind === 'p2p') return true;
  if (kind === 'opentracker') return spawnSync('sh', ['-c', 'command -v opentracker']).status === 0;
  return fs.existsSync(path.join(ANCHORS, 'node_modules', 'bittorrent-tracker', 'package.json'));
}

async function main(): Promise<void> {
  const flags = benchFlags({ seconds: 'string', concurrency: 'string', quick: 'boolean', 'skip-references': 'boolean', out: 'string' },
    'usage: npm run bench:tracker -- [--seconds 10] [--concurrency 64] [--quick] [--skip-references] [--out FOLDER]');
  if (os.cpus().length < 2) say('note: fewer than 2 CPUs: the tracker and the generator share one core');
  const quick = !!flags.quick;
  const seconds = Number(flags.seconds ?? (quick ? 3 : 10));
  const concurrency = Number(flags.concurrency ?? 64);
  const out = path.resolve(String(flags.out ?? path.join(ROOT, 'bench-results')));
  fs.mkdirSync(out, { recursive: true });
  const base = { protocol: 'p2p', host: '127.0.0.1', port: 0, sockets: 1024, concurrency, seconds, timeoutMs: 2000, fill: 0.5 } as const;
  const swarms = quick ? [{ peers: 1000, pieces: 1000 }, { peers: 10_000, pieces: 10_000 }]
    : [{ peers: 1000, pieces: 1000 }, { peers: 1000, pieces: 10_000 }, { peers: 10_000, pieces: 1000 }, { peers: 10_000, pieces: 10_000 }];

  const rows: Row[] = [];
  const run = async (kind: TrackerKind, config: LoadConfig) => {
    const row = await measure(kind, config);
    say(describe(row));
    rows.push(row);
    return row;
  };
  say(`== tracker load: closed loop, ${concurrency} requests in flight from ${base.sockets} sockets, ${seconds} s per swarm; tracker on CPU 0, generator on CPU 1`);
  for (const s of swarms) await run('p2p', { ...base, ...s, workload: 'announce' });
  const largest = swarms[swarms.length - 1]!;
  await run('p2p', { ...base, ...largest, workload: 'query' });

  const references: TrackerKind[] = flags['skip-references'] ? [] : ['bittorrent-tracker', 'opentracker'];
  const ratios: Record<string, number> = {};
  for (const kind of references) {
    if (!installed(kind)) {
      say(`${kind}: not installed (bash ../shared/bench/setup-anchors.sh), skipped`);
      continue;
    }
    for (const peers of [...new Set(swarms.map((s) => s.peers))]) {
      const ref = await run(kind, { ...base, protocol: 'bep15', peers, pieces: REFERENCE_PIECES, workload: 'announce' });
      const ours = rows.find((r) => r.tracker === 'p2p' && r.workload === 'announce' && r.peers === peers && r.pieces === REFERENCE_PIECES);
      if (ours && ref.result.perSecond > 0) ratios[`p2p/${kind} at ${peers} peers`] = Number((ours.result.perSecond / ref.result.perSecond).toFixed(2));
    }
  }
  if (Object.keys(ratios).length) say(`announce rate ratios (p2p at 1,000 pieces): ${JSON.stringify(ratios)}`);
  const file = path.join(out, 'tracker-load.json');
  writeJson(file, { benchmark: 'tracker-load', seconds, concurrency, sockets: base.sockets, rows, ratios });
  say(`written: ${file}`);
}

main().catch((err: Error) => {
  process.stderr.write(`bench:tracker: ${err.stack ?? err.message}\n`);
  process.exitCode = 1;
});
