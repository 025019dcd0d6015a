// Benchmark: how closely `--max-up` and `--max-down` hold. One seed, one
// leecher over 127.0.0.1; either the seed's upload or the leecher's download
// is limited. Bytes are read from the kernel's own count of what each process
// wrote to or read from its sockets and files (/proc/PID/io), every 100 ms,
// and every 5-second window between the first and the last byte is compared
// with the limit: the largest and smallest window rates, as a ratio.
//
//   node dist/bench/rate-limit.js [--rate 4MiB/s] [--size 48] [--json FILE]
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SpawnedP2p, trackerAddressOf } from '../src/cli/spawned';
import { formatRate, parseRate } from '../src/core/rate';
import { benchFlags, writeJson } from './report';

const MiB = 1024 * 1024;
const SAMPLE_MS = 100;
const WINDOW_MS = 5000;

export interface RateLimitResult {
  direction: 'up' | 'down';
  limitBytesPerSec: number;
  /** Every 5-second window's rate over the limit: the largest and the smallest. */
  maxWindowOverLimit: number;
  minWindowOverLimit: number;
  /** The whole transfer's rate over the limit. */
  meanOverLimit: number;
  windows: number;
  ok: boolean;
}

/** Bytes a process has written (`wchar`) or read (`rchar`) through system calls. */
function ioBytes(pid: number, field: 'wchar' | 'rchar'): number | undefined {
  try {
    const m = new RegExp(`${field}: (\\d+)`).exec(fs.readFileSync(`/proc/${pid}/io`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Rates of every WINDOW_MS window of a series of cumulative byte counts taken every SAMPLE_MS. */
export function windowRates(samples: number[]): number[] {
  const span = WINDOW_MS / SAMPLE_MS;
  const rates: number[] = [];
  for (let i = 0; i + span < samples.length; i++) rates.push((samples[i + span]! - samples[i]!) / (WINDOW_MS / 1000));
  return rates;
}

export async function measureRateLimit(direction: 'up' | 'down', rate: number, sizeMiB: number): Promise<RateLimitResult> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'p2p-rate-'));
  const procs: SpawnedP2p[] = [];
  try {
    const seedDir = path.join(root, 'seed');
    const leechDir = path.join(root, 'leech');
    fs.mkdirSync(seedDir);
    fs.mkdirSync(leechDir);
    const data = randomBytes(sizeMiB * MiB);
    fs.writeFileSync(path.join(seedDir, 'f.bin'), data);
    const want = createHash('sha256').update(data).digest('hex');
    const tracker = new SpawnedP2p('tracker', ['tracker', '--host', '127.0.0.1', '--port', '0']);
    procs.push(tracker);
    const { address } = await trackerAddressOf(tracker);
    const peer = (name: string, dir: string, limit: string[]) =>
      new SpawnedP2p(name, ['peer', '--tracker', address, '--ip', '127.0.0.1', '--dir', dir, ...limit]);
    const limitFlag = [direction === 'up' ? '--max-up' : '--max-down', `${rate}`];
    const seed = peer('seed', seedDir, direction === 'up' ? limitFlag : []);
    procs.push(seed);
    await tracker.waitFor(/joined \(127\.0\.0\.1:\d+, 1 file/, 60_000);
    const leech = peer('leech', leechDir, direction === 'down' ? limitFlag : []);
    procs.push(leech);
    await leech.waitFor(/listening on tcp:\/\//);
    // The seed's writes are its uploads; the leecher's reads are its downloads (it reads no file).
    const watched = direction === 'up' ? seed.pid : leech.pid;
    const field = direction === 'up' ? 'wchar' : 'rchar';
    const base = ioBytes(watched, field) ?? 0;
    const samples: number[] = [];
    const sampler = setInterval(() => samples.push((ioBytes(watched, field) ?? base) - base), SAMPLE_MS);
    leech.send('!baixar f.bin');
    const done = await leech.waitFor(/f\.bin complete|f\.bin: failed|f\.bin completo|f\.bin falhou/, (sizeMiB * MiB / rate) * 3000 + 60_000);
    clearInterval(sampler);
    const ok = /complete|completo/.test(done) && createHash('sha256').update(fs.readFileSync(path.join(leechDir, 'f.bin'))).digest('hex') === want;
    // From the first sample with data to the last one that still grew.
    const first = Math.max(0, samples.findIndex((b) => b > 64 * 1024) - 1);
    const total = samples[samples.length - 1] ?? 0;
    const last = samples.findIndex((b) => b >= total);
    const active = samples.slice(first, last + 1);
    const rates = windowRates(active);
    const seconds = (active.length - 1) * SAMPLE_MS / 1000;
    return {
      direction, limitBytesPerSec: rate, ok, windows: rates.length,
      maxWindowOverLimit: Number((Math.max(...rates) / rate).toFixed(4)),
      minWindowOverLimit: Number((Math.min(...rates) / rate).toFixed(4)),
      meanOverLimit: Number(((active[active.length - 1]! - active[0]!) / seconds / rate).toFixed(4)),
    };
  } finally {
    await Promise.all(procs.reverse().map((p) => p.quit()));
    fs.rmSync(root, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const flags = benchFlags({ rate: 'string', size: 'string', json: 'string' },
    'usage: node dist/bench/rate-limit.js [--rate RATE] [--size MIB] [--json FILE]');
  const rate = parseRate(String(flags.rate ?? '4MiB/s'));
  const sizeMiB = Number(flags.size ?? 48);
  const results: RateLimitResult[] = [];
  for (const direction of ['up', 'down'] as const) {
    const r = await measureRateLimit(direction, rate, sizeMiB);
    process.stdout.write(`--max-${direction} ${formatRate(rate)}, ${sizeMiB} MiB: every 5 s window between ` +
      `${(r.minWindowOverLimit * 100).toFixed(1)}% and ${(r.maxWindowOverLimit * 100).toFixed(1)}% of the limit ` +
      `(${r.windows} windows), whole transfer ${(r.meanOverLimit * 100).toFixed(1)}%${r.ok ? '' : ', DOWNLOAD FAILED'}\n`);
    results.push(r);
  }
  if (flags.json) writeJson(String(flags.json), { benchmark: 'rate-limit', sizeMiB, results });
}

if (require.main === module) {
  main().catch((err: Error) => {
    process.stderr.write(`rate-limit: ${err.stack ?? err.message}\n`);
    process.exitCode = 1;
  });
}
