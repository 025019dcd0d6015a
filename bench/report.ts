// Small helpers shared by the benchmarks: flags, medians and JSON output.
import * as fs from 'node:fs';
import * as os from 'node:os';
import { parseFlags, UsageError, type FlagSpec } from '../src/cli/args';

/**
 * A benchmark's flags; `--help` prints its usage and ends the process, and a
 * wrong flag prints what is wrong with the usage and ends it with status 2.
 */
export function benchFlags(spec: FlagSpec, usage: string): Record<string, string | boolean> {
  try {
    const { flags } = parseFlags(process.argv.slice(2), { ...spec, help: 'boolean' });
    if (!flags.help) return flags;
    process.stdout.write(usage + '\n');
    process.exit(0);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`${err.message}\n${usage}\n`);
    process.exit(2);
  }
}

export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Writes `data` with the machine it was measured on. */
export function writeJson(file: string, data: object): void {
  const machine = { node: process.version, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? '', memGiB: Math.round(os.totalmem() / 2 ** 30) };
  fs.writeFileSync(file, JSON.stringify({ measuredAt: new Date().toISOString(), machine, ...data }, null, 1) + '\n');
}
