// A child process of the real `bin/p2p.js`, with its output split into lines
// that callers can wait for. The demo, the lab, the benchmarks and the
// end-to-end tests all drive real processes through this one class.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const P2P_BIN = path.join(__dirname, '..', '..', '..', 'bin', 'p2p.js');
/** Lines kept per process for waitFor and for error reports. */
const KEPT_LINES = 2000;

type LineTest = RegExp | ((line: string) => boolean);

export interface SpawnOptions {
  env?: NodeJS.ProcessEnv;
  /** Extra arguments for node itself, e.g. --cpu-prof. */
  nodeArgs?: string[];
  /** Called with every line as it arrives. */
  onLine?: (line: string) => void;
}

export class SpawnedP2p {
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  readonly exited: Promise<number | null>;
  private readonly waiters: { test: (l: string) => boolean; resolve: (l: string) => void; reject: (e: Error) => void }[] = [];
  private partial = '';

  constructor(readonly name: string, args: string[], private readonly options: SpawnOptions = {}) {
    this.child = spawn(process.execPath, [...(options.nodeArgs ?? []), P2P_BIN, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'], env: options.env ?? process.env,
    });
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => {
      for (const w of this.waiters.splice(0)) {
        w.reject(new Error(`${name} exited (${code ?? signal}) while waiting; last lines:\n${this.tail()}`));
      }
      resolve(code);
    }));
    const onText = (text: string) => {
      this.partial += text;
      const parts = this.partial.split('\n');
      this.partial = parts.pop()!;
      for (const raw of parts) this.onLine(raw.replace(/^(> )+/, ''));
    };
    this.child.stdout!.setEncoding('utf8').on('data', onText);
    this.child.stderr!.setEncoding('utf8').on('data', onText);
    this.child.stdin!.on('error', () => undefined); // the process may exit before reading everything
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  private onLine(line: string): void {
    this.lines.push(line);
    if (this.lines.length > KEPT_LINES) this.lines.shift();
    this.options.onLine?.(line);
    for (const w of [...this.waiters]) {
      if (w.test(line)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  }

  tail(n = 15): string {
    return this.lines.slice(-n).join('\n');
  }

  /** Resolves with the first line (seen or to come) that matches. */
  waitFor(pattern: LineTest, timeoutMs = 30_000): Promise<string> {
    const test = typeof pattern === 'function' ? pattern : (l: string) => pattern.test(l);
    const seen = this.lines.find(test);
    if (seen !== undefined) return Promise.resolve(seen);
    if (!this.running) return Promise.reject(new Error(`${this.name} has exited; last lines:\n${this.tail()}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.findIndex((w) => w.resolve === done), 1);
        reject(new Error(`${this.name}: no line matching ${String(pattern)} within ${timeoutMs} ms; last lines:\n${this.tail()}`));
      }, timeoutMs);
      const done = (l: string) => { clearTimeout(timer); resolve(l); };
      this.waiters.push({ test, resolve: done, reject: (e) => { clearTimeout(timer); reject(e); } });
    });
  }

  send(line: string): void {
    if (this.running) this.child.stdin!.write(line + '\n');
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.running) this.child.kill(signal);
  }

  /** Sends `line` and closes standard input; SIGKILL if not gone within graceMs. */
  async quit(line = '!sair', graceMs = 10_000): Promise<number | null> {
    if (this.running) this.child.stdin!.end(line + '\n');
    const timer = setTimeout(() => this.kill('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Where a tracker started with --port 0 listens, from its first lines. */
export async function trackerAddressOf(tracker: SpawnedP2p): Promise<{ host: string; port: number; address: string }> {
  const line = await tracker.waitFor(/udp:\/\/[^\s]+:\d+/);
  const m = /udp:\/\/([^\s]+):(\d+)/.exec(line)!;
  return { host: m[1]!, port: Number(m[2]), address: `${m[1]}:${m[2]}` };
}

/** USER_HZ: the unit of /proc/PID/stat times on Linux. */
const CLOCK_TICKS_PER_SECOND = 100;

/** CPU seconds (user + system, all threads) of a live process, from /proc. */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/** A memory figure (kB in /proc/PID/status, e.g. VmRSS) of a live process, in bytes. */
function statusBytes(pid: number, field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Peak resident memory (VmHWM) of a live process in bytes, from /proc. */
export function peakRssBytes(pid: number): number | undefined {
  return statusBytes(pid, 'VmHWM');
}

/** Resident memory now (VmRSS) of a live process in bytes, from /proc. */
export function rssBytes(pid: number): number | undefined {
  return statusBytes(pid, 'VmRSS');
}
