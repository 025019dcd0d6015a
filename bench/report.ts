// Small helpers shared by the benchmarks: medians and JSON output.
import * as fs from 'node:fs';
import * as os from 'node:os';

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
