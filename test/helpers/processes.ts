// Spawns the real `bin/p2p.js` and lets a test wait for lines of its output.
// Every process started here is killed by `killAll()` (by its PID).
import { SpawnedP2p } from '../../src/cli/spawned';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const running = new Set<SpawnedP2p>();

export type P2pProcess = SpawnedP2p;

/** A real bin/p2p.js process, in English, killed by killAll() after each test. */
export function startP2p(name: string, args: string[], env: NodeJS.ProcessEnv = {}): P2pProcess {
  const p = new SpawnedP2p(name, args, {
    env: { ...process.env, LANG: 'C', LC_ALL: '', ...env },
    onLine: (line) => { if (process.env.P2P_TEST_VERBOSE) process.stderr.write(`[${name}] ${line}\n`); },
  });
  running.add(p);
  void p.exited.then(() => running.delete(p));
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
