// Faults, with nothing lost: a downloader killed with SIGKILL resumes without
// fetching its verified pieces again; a tracker killed and restarted is found
// again by the peers on their own; a full disk gives a clear message and the
// partial file never takes the final name.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { killAll, makeDirs, removeScratch, startP2p, startPeer, startTracker } from '../helpers/processes';

const MiB = 1024 * 1024;
const UNITS: Record<string, number> = { B: 1, KiB: 1024, MiB, GiB: 1024 * MiB };

/** Bytes received by a peer so far, from the traffic line of !pieces. */
async function bytesReceived(peer: ReturnType<typeof startP2p>): Promise<number> {
  const before = peer.lines.length;
  peer.send('!pieces');
  const line = await peer.waitFor((l) => peer.lines.indexOf(l) >= before && /traffic: /.test(l));
  const m = /down [^(]*\(limit [^,]*, ([\d.]+) (B|KiB|MiB|GiB) in all\)/.exec(line);
  assert.ok(m, line);
  return Number(m[1]) * UNITS[m[2]!]!;
}

const progressAtLeast = (name: string, min: number, max = 100) => (l: string) => {
  const m = new RegExp(`${name.replace('.', '\\.')}: \\[[#.]*\\]\\s+(\\d+)%`).exec(l);
  return !!m && Number(m[1]) >= min && Number(m[1]) <= max;
};

describe('faults (spawned bin/p2p.js)', function () {
  this.timeout(120_000);
  afterEach(killAll);
  after(removeScratch);

  it('resumes after SIGKILL without fetching verified pieces again, byte-identical', async () => {
    const dirs = makeDirs('seed', 'leech');
    const data = randomBytes(8 * MiB);
    fs.writeFileSync(path.join(dirs.seed!, 'big.bin'), data);
    const tracker = await startTracker();
    await startPeer('seed', tracker.address, dirs.seed!, ['--max-up', '2MiB/s']);
    await tracker.proc.waitFor(/joined/);
    const first = await startPeer('first', tracker.address, dirs.leech!);
    first.send('!baixar big.bin');
    await first.waitFor(progressAtLeast('big.bin', 40, 80), 60_000);
    first.kill('SIGKILL');
    await first.exited;
    assert.ok(fs.existsSync(path.join(dirs.leech!, 'big.bin.part')));
    assert.ok(!fs.existsSync(path.join(dirs.leech!, 'big.bin')), 'a half-written file never has the final name');

    const second = await startPeer('second', tracker.address, dirs.leech!);
    second.send('!baixar big.bin');
    await second.waitFor(/big\.bin complete/, 60_000);
    const received = await bytesReceived(second);
    assert.ok(Buffer.compare(fs.readFileSync(path.join(dirs.leech!, 'big.bin')), data) === 0, 'byte-identical');
    // At least 40% was verified before the kill: the second run fetched at most the rest.
    assert.ok(received <= 0.6 * data.length + 256 * 1024, `the second run received ${received} bytes`);
    assert.ok(received > 0);
    assert.ok(!fs.existsSync(path.join(dirs.leech!, 'big.bin.part')));
  });

  it('finds a restarted tracker on its own, and the download finishes', async () => {
    const dirs = makeDirs('seed', 'leech');
    const data = randomBytes(6 * MiB);
    fs.writeFileSync(path.join(dirs.seed!, 'big.bin'), data);
    const first = await startTracker();
    await startPeer('seed', first.address, dirs.seed!, ['--max-up', '1MiB/s']);
    await first.proc.waitFor(/joined/);
    const leech = await startPeer('leech', first.address, dirs.leech!);
    leech.send('!baixar big.bin');
    await leech.waitFor(progressAtLeast('big.bin', 5, 60), 60_000);
    first.proc.kill('SIGKILL');
    await first.proc.exited;
    const second = startP2p('tracker2', ['tracker', '--host', '127.0.0.1', '--port', String(first.port)]);
    // Both peers announce again to the new tracker by themselves (their old tokens are refused).
    await second.waitFor((l) => second.lines.filter((x) => /joined \(127\.0\.0\.1:\d+, 1 file/.test(x)).length >= 2 && /joined/.test(l), 30_000);
    await leech.waitFor(/big\.bin complete/, 60_000);
    assert.ok(Buffer.compare(fs.readFileSync(path.join(dirs.leech!, 'big.bin')), data) === 0, 'byte-identical');
  });

  it('says clearly when the disk is full, and never renames the partial file', async function () {
    if (process.getuid?.() !== 0) this.skip(); // mounting a small tmpfs needs root
    const dirs = makeDirs('seed', 'leech');
    fs.writeFileSync(path.join(dirs.seed!, 'big.bin'), randomBytes(6 * MiB));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', dirs.leech!]);
    try {
      const tracker = await startTracker();
      await startPeer('seed', tracker.address, dirs.seed!);
      await tracker.proc.waitFor(/joined/);
      const leech = await startPeer('leech', tracker.address, dirs.leech!);
      leech.send('!baixar big.bin');
      const failed = await leech.waitFor(/big\.bin: failed: /, 60_000);
      assert.match(failed, /cannot write big\.bin\.part: ENOSPC/);
      assert.ok(!fs.existsSync(path.join(dirs.leech!, 'big.bin')));
      leech.send('!sair');
      assert.equal(await leech.exited, 0);
    } finally {
      await killAll();
      execFileSync('umount', [dirs.leech!]);
    }
  });
});

describe('a crash under load (spawned bin/p2p.js, test-only fault)', function () {
  this.timeout(120_000);
  afterEach(killAll);
  after(removeScratch);

  it('restarts the crashed piece store and the transfer completes, byte-identical', async () => {
    const dirs = makeDirs('seed', 'leech');
    const data = randomBytes(16 * MiB);
    fs.writeFileSync(path.join(dirs.seed!, 'big.bin'), data);
    const tracker = await startTracker();
    await startPeer('seed', tracker.address, dirs.seed!, ['--max-up', '8MiB/s']);
    await tracker.proc.waitFor(/joined/);
    const leech = startP2p('leech', ['peer', '--tracker', tracker.address, '--ip', '127.0.0.1', '--dir', dirs.leech!],
      { P2P_TEST_CRASH_STORE_AFTER: '20' });
    await leech.waitFor(/listening on tcp:\/\//);
    leech.send('!baixar big.bin');
    await leech.waitFor(/peer\.PieceStore#[\d.]+ crashed: test fault/, 60_000);
    await leech.waitFor(/the piece store restarted; resuming/, 60_000);
    await leech.waitFor(/big\.bin complete/, 90_000);
    assert.ok(Buffer.compare(fs.readFileSync(path.join(dirs.leech!, 'big.bin')), data) === 0, 'byte-identical');
    leech.send('!sair');
    assert.equal(await leech.exited, 0);
  });
});
