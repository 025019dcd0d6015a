// Spawns the real `bin/p2p.js` and lets a test wait for lines of its output.
// Every process started here is killed by `killAll()` (by its PID).
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const BIN = path.join(__dirname, '..', '..', '..', 'bin', 'p2p.js');
const running = new Set<P2pProcess>();

export class P2pProcess {
  readonly lines: string[] = [];
  private readonly waiters: { test: (l: string) => boolean; resolve: (l: string) => void; reject: (e: Error) => void }[] = [];
  readonly exited: Promise<number | null>;
  private partial = '';

  constructor(readonly name: string, readonly child: ChildProcess) {
    this.exited = new Promise((resolve) => child.once('exit', (code) => {
      running.delete(this);
      for (const w of this.waiters.splice(0)) w.reject(new Error(`${name} exited (${code}) while waiting; last lines:\n${this.lines.slice(-15).join('\n')}`));
      resolve(code);
    }));
    const onText = (text: string) => {
      this.partial += text;
      const parts = this.partial.split('\n');
      this.partial = parts.pop()!;
      for (const raw of parts) this.onLine(raw.replace(/^(> )+/, ''));
    };
    child.stdout!.setEncoding('utf8').on('data', onText);
    child.stderr!.setEncoding('utf8').on('data', onText);
  }

  private onLine(line: string): void {
    this.lines.push(line);
    if (process.env.P2P_TEST_VERBOSE) process.stderr.write(`[${this.name}] ${line}\n`);
    for (const w of [...this.waiters]) {
      if (w.test(line)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  }

  /** Resolves with the first line (seen or to come) that matches. */
  waitFor(pattern: RegExp, timeoutMs = 30_000): Promise<string> {
    const seen = this.lines.find((l) => pattern.test(l));
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`${this.name}: no line matching ${pattern} within ${timeoutMs} ms; last lines:\n${this.lines.slice(-15).join('\n')}`));
      }, timeoutMs);
      this.waiters.push({
        test: (l) => pattern.test(l),
        resolve: (l) => { clearTimeout(timer); resolve(l); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      });
    });
  }

  send(line: string): void {
    this.child.stdin!.write(line + '\n');
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
  }
}

export function startP2p(name: string, args: string[], env: NodeJS.ProcessEnv = {}): P2pProcess {
  const child = spawn(process.execPath, [BIN, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, LANG: 'C', LC_ALL: '', ...env },
  });
  const p = new P2pProcess(name, child);
  running.add(p);
  return p;
}

export async function startTracker(extra: string[] = []): Promise<{ proc: P2pProcess; address: string; port: number }> {
  const proc = startP2p('tracker', ['tracker', '--host', '127.0.0.1', '--port', '0', ...extra]);
  const line = await proc.waitFor(/udp:\/\/127\.0\.0\.1:\d+/);
  const port = Number(/udp:\/\/127\.0\.0\.1:(\d+)/.exec(line)![1]);
  return { proc, address: `127.0.0.1:${port}`, port };
}

export async function startPeer(name: string, tracker: string, dir: string, extra: string[] = []): Promise<P2pProcess> {
  const proc = startP2p(name, ['peer', '--tracker', tracker, '--ip', '127.0.0.1', '--dir', dir, ...extra]);
  await proc.waitFor(/listening on tcp:\/\//);
  return proc;
}

export async function killAll(): Promise<void> {
  const all = [...running];
  for (const p of all) p.kill('SIGKILL');
  await Promise.all(all.map((p) => p.exited));
}

const scratch: string[] = [];

/** Makes fresh folders under one temporary root; `removeScratch()` deletes them. */
export function makeDirs(...names: string[]): Record<string, string> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'enxame-e2e-'));
  scratch.push(root);
  return Object.fromEntries(names.map((n) => {
    const d = path.join(root, n);
    fs.mkdirSync(d);
    return [n, d];
  }));
}

export function removeScratch(): void {
  for (const root of scratch.splice(0)) fs.rmSync(root, { recursive: true, force: true });
}
