// `npm run bench`: every benchmark of the data plane, printed and written as
// JSON into bench-results/ (figures, never pass/fail: speed is measured here,
// not in tests).
//
//   1. loopback pair: one seed, one leecher, 256 MiB over 127.0.0.1, no limits
//      (MB/s, CPU seconds, peak RSS; median of 3);
//   2. lab: N = 20 leechers, 32 MiB, every peer at 1 MiB/s up, 10 MiB/s down,
//      max/T_min and mean/T_min (median of 3), rarest-first and sequential;
//   3. the reference clients beside p2p, through ../shared/bench: the same
//      loopback pair (WebTorrent, aria2, libtorrent) and a capped swarm in
//      network namespaces (libtorrent, aria2), with our ratio to each.
//
//   4. tracing: the loopback pair with the leecher's --trace off and on.
//   5. rate limits: --max-up and --max-down at 4 MiB/s, every 5-second window
//      against the limit.
//
// Flags: --quick (one run each, smaller sizes), --skip-references,
//        --only pair|trace|lab|rates|references, --out FOLDER (default bench-results).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runSwarmLab, type LabResult } from '../src/cli/lab-command';
import { parseRate, parseSize } from '../src/core/rate';
import { loopbackPair } from './loopback-pair';
import { measureRateLimit } from './rate-limit';
import { benchFlags, median, writeJson } from './report';

const ROOT = path.join(__dirname, '..', '..');
const SHARED_BENCH = path.join(ROOT, '..', 'shared', 'bench');

const say = (line: string) => process.stdout.write(line + '\n');

async function main(): Promise<void> {
  const usage = 'usage: npm run bench -- [--quick] [--skip-references] [--only pair|trace|lab|rates|references] [--out FOLDER]';
  const flags = benchFlags({ quick: 'boolean', 'skip-references': 'boolean', only: 'string', out: 'string' }, usage);
  if (flags.only && !['pair', 'trace', 'lab', 'rates', 'references'].includes(String(flags.only))) {
    process.stderr.write(`--only: pair, trace, lab, rates or references, not "${String(flags.only)}"\n${usage}\n`);
    process.exit(2);
  }
  const quick = !!flags.quick;
  const runs = quick ? 1 : 3;
  const out = path.resolve(String(flags.out ?? path.join(ROOT, 'bench-results')));
  fs.mkdirSync(out, { recursive: true });
  const only = flags.only ? String(flags.only) : undefined;
  const summary: Record<string, unknown> = {};

  if (!only || only === 'pair') {
    const sizeMiB = quick ? 64 : 256;
    say(`\n== 1. loopback pair: ${sizeMiB} MiB, no limits, ${runs} run(s)`);
    const pair = await loopbackPair({ sizeMiB, runs });
    say(`median: ${pair.median.MBps} MB/s (transfer alone ${pair.median.transfer_MBps} MB/s), ` +
      `CPU leecher ${pair.median.leech_cpu_s} s / seed ${pair.median.seed_cpu_s} s, ` +
      `peak RSS leecher ${pair.median.leech_peak_rss_MiB} MiB / seed ${pair.median.seed_peak_rss_MiB} MiB`);
    writeJson(path.join(out, 'loopback-pair.json'), { benchmark: 'loopback-pair', sizeMiB, ...pair });
    summary.loopbackPair = pair.median;
  }

  if (!only || only === 'trace') {
    // The cost of tracing, off and on, measured side by side, run for run.
    const sizeMiB = quick ? 64 : 256;
    say(`\n== tracing cost: the loopback pair, ${sizeMiB} MiB, leecher tracing off / on, ${runs} run(s) each`);
    const off: number[] = [];
    const on: number[] = [];
    for (let i = 0; i < runs; i++) {
      off.push((await loopbackPair({ sizeMiB, runs: 1, log: () => undefined })).median.transfer_MBps!);
      on.push((await loopbackPair({ sizeMiB, runs: 1, log: () => undefined, leechArgs: (dir) => ['--trace', path.join(dir, 'leech.trace')] })).median.transfer_MBps!);
      say(`  run ${i + 1}: off ${off[i]} MB/s, on ${on[i]} MB/s`);
    }
    const ratio = Number((median(on) / median(off)).toFixed(3));
    say(`median: off ${median(off)} MB/s, on ${median(on)} MB/s: tracing keeps ${(ratio * 100).toFixed(0)}% of the throughput`);
    writeJson(path.join(out, 'trace-cost.json'), { benchmark: 'trace-cost', sizeMiB, offMBps: off, onMBps: on, onOverOff: ratio });
    summary.traceCost = { offMBps: median(off), onMBps: median(on), onOverOff: ratio };
  }

  if (!only || only === 'lab') {
    const peers = quick ? 8 : 20;
    const sizeBytes = parseSize(quick ? '8MiB' : '32MiB');
    const lab: Record<string, { runs: LabResult[]; maxOverTMin: number; meanOverTMin: number }> = {};
    for (const policy of ['rarest', 'sequential'] as const) {
      say(`\n== 2. lab: ${peers} leechers, ${sizeBytes >> 20} MiB, 1 MiB/s up, 10 MiB/s down, policy ${policy}, ${runs} run(s)`);
      const results: LabResult[] = [];
      for (let i = 0; i < runs; i++) {
        const r = await runSwarmLab({
          peers, sizeBytes, up: parseRate('1MiB/s'), down: parseRate('10MiB/s'), seedUp: parseRate('1MiB/s'),
          pieceSize: 256 * 1024, policy, seedCount: 1, timeoutMs: 600_000, keep: false, write: () => undefined,
        });
        say(`  run ${i + 1}: max/T_min ${r.maxOverTMin}, mean/T_min ${r.meanOverTMin} (T_min ${r.tMinSeconds} s, max ${r.maxSeconds} s, ` +
          `${r.finished}/${peers} finished, seed sent ${r.seedCopiesSent} copies)`);
        results.push(r);
      }
      lab[policy] = {
        runs: results.map((r) => ({ ...r, availability: [] })),
        maxOverTMin: median(results.map((r) => r.maxOverTMin)), meanOverTMin: median(results.map((r) => r.meanOverTMin)),
      };
      say(`median: max/T_min ${lab[policy]!.maxOverTMin}, mean/T_min ${lab[policy]!.meanOverTMin}`);
    }
    writeJson(path.join(out, 'lab.json'), { benchmark: 'lab', peers, sizeBytes, ...lab });
    summary.lab = Object.fromEntries(Object.entries(lab).map(([k, v]) => [k, { maxOverTMin: v.maxOverTMin, meanOverTMin: v.meanOverTMin }]));
  }

  if (!only || only === 'rates') {
    const rate = parseRate('4MiB/s');
    const sizeMiB = quick ? 24 : 48;
    say(`\n== 5. rate limits: 4 MiB/s, ${sizeMiB} MiB, every 5-second window against the limit`);
    const rates = [];
    for (const direction of ['up', 'down'] as const) {
      const r = await measureRateLimit(direction, rate, sizeMiB);
      say(`--max-${direction}: windows between ${(r.minWindowOverLimit * 100).toFixed(1)}% and ${(r.maxWindowOverLimit * 100).toFixed(1)}% ` +
        `of the limit (${r.windows} windows), whole transfer ${(r.meanOverLimit * 100).toFixed(1)}%${r.ok ? '' : ', DOWNLOAD FAILED'}`);
      rates.push(r);
    }
    writeJson(path.join(out, 'rate-limit.json'), { benchmark: 'rate-limit', sizeMiB, results: rates });
    summary.rateLimits = rates;
  }

  if ((!only || only === 'references') && !flags['skip-references']) {
    summary.references = references(out, quick);
  }
  writeJson(path.join(out, 'summary.json'), summary);
  say(`\nwritten: ${out}`);
}

/** The harnesses in ../shared/bench: our figures beside the reference clients', in one run. */
function references(out: string, quick: boolean): Record<string, unknown> {
  if (!fs.existsSync(path.join(SHARED_BENCH, 'loopback_pair.py'))) {
    say(`\n== 3. reference clients: skipped (${SHARED_BENCH} not found)`);
    return { skipped: 'no ../shared/bench' };
  }
  say('\n== 3. reference clients (../shared/bench): installing them if needed');
  const setup = spawnSync('bash', [path.join(SHARED_BENCH, 'setup-anchors.sh')], { stdio: 'inherit' });
  if (setup.status !== 0) return { skipped: 'setup-anchors.sh failed' };
  const env = { ...process.env, P2P_BIN: `${process.execPath} ${path.join(ROOT, 'bin', 'p2p.js')}` };
  const result: Record<string, unknown> = {};

  const size = quick ? 64 : 256;
  const pairJson = path.join(out, 'reference-loopback.json');
  say(`\n-- loopback pair, ${size} MiB, p2p beside webtorrent, aria2, libtorrent`);
  spawnSync('python3', [path.join(SHARED_BENCH, 'loopback_pair.py'), '--size', String(size), '--runs', quick ? '1' : '3',
    '--clients', 'p2p,webtorrent,aria2,libtorrent', '--json', pairJson], { stdio: 'inherit', cwd: ROOT, env });
  if (fs.existsSync(pairJson)) {
    const rows = (JSON.parse(fs.readFileSync(pairJson, 'utf8')).results ?? []) as { client: string; ok: boolean; MBps: number }[];
    const medians: Record<string, number> = {};
    for (const c of new Set(rows.map((r) => r.client))) medians[c] = median(rows.filter((r) => r.client === c && r.ok).map((r) => r.MBps));
    const ratios = Object.fromEntries(Object.entries(medians).filter(([c]) => c !== 'p2p').map(([c, v]) => [`p2p/${c}`, Number((medians.p2p! / v).toFixed(2))]));
    say(`medians MB/s: ${JSON.stringify(medians)}; ratios: ${JSON.stringify(ratios)}`);
    result.loopbackPair = { medianMBps: medians, ratios };
  }

  if (process.getuid?.() !== 0) {
    say('\n-- capped swarm in network namespaces: skipped (needs root)');
    result.swarm = { skipped: 'needs root' };
    return result;
  }
  const leechers = quick ? 5 : 10;
  const swarm: Record<string, number> = {};
  for (const client of ['p2p', 'libtorrent', 'aria2']) {
    const json = path.join(out, `reference-swarm-${client}.json`);
    say(`\n-- capped swarm: ${client}, ${leechers} leechers, 32 MiB, 4 mbit up, 40 mbit down`);
    spawnSync('python3', [path.join(SHARED_BENCH, 'netswarm.py'), '--client', client, '--leechers', String(leechers), '--up', '4mbit',
      '--seed-up', '4mbit', '--down', '40mbit', '--size', quick ? '8' : '32', '--piece-kib', '256', '--timeout', '600', '--json', json],
    { stdio: 'inherit', cwd: ROOT, env });
    if (!fs.existsSync(json)) continue;
    const r = JSON.parse(fs.readFileSync(json, 'utf8'));
    const ratio = Number(r.max_over_Tmin ?? NaN);
    if (Number.isFinite(ratio)) swarm[client] = ratio;
    else say(`  ${client}: no max/T_min (${r.error ?? `${r.completed ?? 0} finished`})`);
  }
  say(`capped swarm max/T_min: ${JSON.stringify(swarm)}`);
  result.swarm = { maxOverTMin: swarm };
  return result;
}

main().catch((err: Error) => {
  process.stderr.write(`bench: ${err.stack ?? err.message}\n`);
  process.exitCode = 1;
});
