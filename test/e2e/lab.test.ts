// `p2p lab` end to end: a small rate-limited swarm of real processes, its
// summary, and the JSON and HTML reports it writes.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { killAll, makeDirs, removeScratch, startP2p } from '../helpers/processes';
import { fluidLowerBound } from '../../src/cli/lab-command';

describe('p2p lab (spawned bin/p2p.js)', function () {
  this.timeout(180_000);
  afterEach(killAll);
  after(removeScratch);

  it('runs a swarm to the end and reports completion times against T_min', async () => {
    const { out } = makeDirs('out');
    const json = path.join(out!, 'lab.json');
    const html = path.join(out!, 'lab.html');
    const lab = startP2p('lab', ['lab', '--peers', '3', '--size', '2MiB', '--piece-size', '64KiB', '--up', '2MiB/s',
      '--down', '8MiB/s', '--seed-up', '2MiB/s', '--json', json, '--html', html]);
    await lab.waitFor(/max\/T_min = /, 150_000);
    assert.equal(await lab.exited, 0, lab.tail(30));
    const r = JSON.parse(fs.readFileSync(json, 'utf8'));
    assert.equal(r.finished, 3);
    assert.equal(r.allIdentical, true);
    assert.equal(r.completion.length, 3);
    assert.equal(r.pieceCount, 32);
    // 2 MiB from a 2 MiB/s seed: T_min is one second, bound by the seed's upload.
    assert.equal(r.tMinSeconds, 1);
    assert.equal(r.bound, 'seed upload');
    for (const t of r.completion) assert.ok(t >= r.tMinSeconds * 0.95, `a leecher beat the physical limit: ${t}`);
    assert.ok(Math.abs(r.maxOverTMin - r.maxSeconds / r.tMinSeconds) < 0.01);
    assert.ok(r.seedCopiesSent >= 0.95, `the seed sent ${r.seedCopiesSent} copies`);
    assert.ok(r.availability.length >= 1 && r.availability.every((s: { counts: number[] }) => s.counts.length === 32));
    const page = fs.readFileSync(html, 'utf8');
    assert.match(page, /<svg/);
    assert.match(page, /T_min/);
    assert.doesNotMatch(page, /<script|https?:\/\//, 'the report needs nothing from the network');
  });

  it('says what is wrong with a bad flag, and exits 2', async () => {
    const lab = startP2p('lab', ['lab', '--peers', 'many']);
    await lab.waitFor(/--peers: a whole number/);
    assert.equal(await lab.exited, 2);
  });
});

describe('fluid lower bound', () => {
  it('is the largest of the three terms', () => {
    const MiB = 1024 * 1024;
    assert.deepEqual(fluidLowerBound(32 * MiB, 20, MiB, MiB, 10 * MiB), { seconds: 32, bound: 'seed upload' });
    const swarm = fluidLowerBound(32 * MiB, 20, 4 * MiB, 0.5 * MiB, 10 * MiB);
    assert.equal(swarm.bound, 'swarm upload');
    assert.ok(Math.abs(swarm.seconds - (20 * 32) / (4 + 10)) < 1e-9);
    assert.deepEqual(fluidLowerBound(32 * MiB, 2, 100 * MiB, 100 * MiB, MiB), { seconds: 32, bound: 'leecher download' });
  });
});
