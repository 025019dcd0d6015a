// Benchmark 1: one seed, one leecher, one file over 127.0.0.1, no limits.
// Real processes of bin/p2p.js. Prints one JSON line per run and the medians;
// writes them all to --json.
//
//   node dist/bench/loopback-pair.js [--size 256] [--runs 3] [--json FILE] [--profile DIR]
//
// Two clocks: `wall_s` from the leecher's spawn to a complete file (start-up
// included, as the reference harness in ../shared/bench counts it) and
// `transfer_s` from `!baixar` to the "complete" line. CPU seconds and peak RSS
// are read from /proc for each process.
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SpawnedP2p, cpuSeconds, peakRssBytes, trackerAddressOf } from '../src/cli/spawned';
import { benchFlags, median, writeJson } from './report';

const MiB = 1024 * 1024;

export interface PairRun {
  run: number;
  ok: boolean;
  wall_s: number;
  transfer_s: number;
  MBps: number;
  transfer_MBps: number;
  leech_cpu_s: number;
  seed_cpu_s: number;
  leech_peak_rss_MiB: number;
  seed_peak_rss_MiB: number;
  /** Page faults of the leecher (fresh memory touched for the first time). */
  leech_minor_faults: number;
  /** The part of the leecher's CPU seconds spent in the kernel. */
  leech_sys_cpu_s: number;
}

export interface PairOptions {
  sizeMiB: number;
  runs: number;
  profileDir?: string;
  /** Extra arguments for both peers. */
  extraPeerArgs?: string[];
  /** Extra arguments for the leecher alone, given its scratch folder (e.g. a trace file there). */
  leechArgs?: (scratch: string) => string[];
  log?: (l: string) => void;
}

export async function loopbackPair(opts: PairOptions): Promise<{ runs: PairRun[]; median: Record<string, number> }> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'enxame-bench-pair-'));
  const log = opts.log ?? ((l: string) => process.stdout.write(l + '\n'));
  try {
    const seedDir = path.join(root, 'seed');
    fs.mkdirSync(seedDir);
    const file = path.join(seedDir, 'f.bin');
    const hash = createHash('sha256');
    const fd = fs.openSync(file, 'w');
    for (let i = 0; i < opts.sizeMiB; i++) {
      const chunk = randomBytes(MiB);
      hash.update(chunk);
      fs.writeSync(fd, chunk);
    }
    fs.closeSync(fd);
    const want = hash.digest('hex');
    const nodeArgs = opts.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${opts.profileDir}`] : [];
    const runs: PairRun[] = [];
    for (let run = 0; run < opts.runs; run++) {
      const leechDir = path.join(root, `leech-${run}`);
      fs.mkdirSync(leechDir);
      const tracker = new SpawnedP2p('tracker', ['tracker', '--host', '127.0.0.1', '--port', '0']);
      const procs = [tracker];
      try {
        const { address } = await trackerAddressOf(tracker);
        const peerArgs = (dir: string) => ['peer', '--tracker', address, '--ip', '127.0.0.1', '--dir', dir, ...(opts.extraPeerArgs ?? [])];
        const seed = new SpawnedP2p('seed', peerArgs(seedDir), { nodeArgs });
        procs.push(seed);
        await tracker.waitFor(/joined \(127\.0\.0\.1:\d+, 1 file/, 120_000);
        const seedCpu0 = cpuSeconds(seed.pid) ?? 0;
        const t0 = process.hrtime.bigint();
        const leech = new SpawnedP2p('leech', [...peerArgs(leechDir), ...(opts.leechArgs?.(root) ?? [])], { nodeArgs });
        procs.push(leech);
        leech.send('!baixar f.bin');
        await leech.waitFor(/listening on tcp:\/\//);
        const tAsked = process.hrtime.bigint();
        let leechCpu = 0;
        const sampler = setInterval(() => { leechCpu = cpuSeconds(leech.pid) ?? leechCpu; }, 50);
        const done = await leech.waitFor(/f\.bin complete|f\.bin: failed|f\.bin falhou|f\.bin completo/, 300_000);
        const t1 = process.hrtime.bigint();
        clearInterval(sampler);
        leechCpu = cpuSeconds(leech.pid) ?? leechCpu;
        const seedCpu = (cpuSeconds(seed.pid) ?? 0) - seedCpu0;
        const leechRss = peakRssBytes(leech.pid) ?? 0;
        const leechFaults = minorFaults(leech.pid) ?? 0;
        const leechSys = systemSeconds(leech.pid) ?? 0;
        const seedRss = peakRssBytes(seed.pid) ?? 0;
        const got = path.join(leechDir, 'f.bin');
        const ok = /complete|completo/.test(done) && fs.existsSync(got) && sha256File(got) === want;
        const wall = Number(t1 - t0) / 1e9;
        const transfer = Number(t1 - tAsked) / 1e9;
        const bytes = opts.sizeMiB * MiB;
        const r: PairRun = {
          run, ok, wall_s: round(wall, 3), transfer_s: round(transfer, 3),
          MBps: round(bytes / 1e6 / wall, 1), transfer_MBps: round(bytes / 1e6 / transfer, 1),
          leech_cpu_s: round(leechCpu, 2), seed_cpu_s: round(seedCpu, 2),
          leech_peak_rss_MiB: round(leechRss / MiB, 1), seed_peak_rss_MiB: round(seedRss / MiB, 1),
          leech_minor_faults: leechFaults, leech_sys_cpu_s: round(leechSys, 2),
        };
        log(JSON.stringify(r));
        runs.push(r);
        await Promise.all([leech.quit(), seed.quit()]);
      } finally {
        for (const p of procs) p.kill('SIGKILL');
        await Promise.all(procs.map((p) => p.exited));
        fs.rmSync(leechDir, { recursive: true, force: true });
      }
    }
    const keys = ['wall_s', 'transfer_s', 'MBps', 'transfer_MBps', 'leech_cpu_s', 'seed_cpu_s', 'leech_peak_rss_MiB', 'seed_peak_rss_MiB'] as const;
    return { runs, median: Object.fromEntries(keys.map((k) => [k, median(runs.map((r) => r[k]))])) };
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

function systemSeconds(pid: number): number | undefined {
  try {
    return Number(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[12]) / 100;
  } catch {
    return undefined;
  }
}

function minorFaults(pid: number): number | undefined {
  try {
    return Number(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[7]);
  } catch {
    return undefined;
  }
}

function sha256File(file: string): string {
  const hash = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.allocUnsafe(4 * MiB);
  try {
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0;) hash.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest('hex');
}

const round = (x: number, digits: number) => Number(x.toFixed(digits));

if (require.main === module) {
  const flags = benchFlags({ size: 'string', runs: 'string', json: 'string', profile: 'string' },
    'usage: node dist/bench/loopback-pair.js [--size MIB] [--runs N] [--json FILE] [--profile DIR]');
  loopbackPair({
    sizeMiB: Number(flags.size ?? 256), runs: Number(flags.runs ?? 3),
    profileDir: flags.profile ? path.resolve(String(flags.profile)) : undefined,
  }).then((result) => {
    process.stdout.write(`median: ${JSON.stringify(result.median)}\n`);
    if (flags.json) writeJson(String(flags.json), { benchmark: 'loopback-pair', sizeMiB: Number(flags.size ?? 256), ...result });
  }, (err: Error) => {
    process.stderr.write(`bench: ${err.message}\n`);
    process.exitCode = 1;
  });
}
