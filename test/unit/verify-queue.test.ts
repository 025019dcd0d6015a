// Downloaded pieces through the real hashing pool (piscina thread, real file):
// right pieces are written where they belong, wrong ones are not, and pieces
// given faster than the pool takes them share jobs.
import { strict as assert } from 'node:assert';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { JobPool } from '../../src/runtime';
import type { HashResult, HashTask } from '../../src/actors/peer/hash-job';
import { VerifyQueue } from '../../src/actors/peer/verify-queue';

const PIECE = 64 * 1024;
const HASH_JOB = path.join(__dirname, '../../src/actors/peer/hash-job.js');

describe('verify queue (real hashing thread)', function () {
  this.timeout(20_000);
  let dir: string;
  let pool: JobPool<HashTask, HashResult>;
  let jobs: HashTask[];

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'enxame-verify-'));
    pool = new JobPool<HashTask, HashResult>(HASH_JOB, 1);
    jobs = [];
  });
  afterEach(async () => {
    await pool.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** The pool, with every job it is given noted. */
  const counted = () => ({
    run: (task: HashTask, transfer?: ArrayBuffer[]) => {
      jobs.push(task);
      return pool.run(task, transfer);
    },
  }) as unknown as JobPool<HashTask, HashResult>;

  it('writes right pieces at their place, refuses wrong ones, and batches a burst', async () => {
    const count = 40;
    const pieces = Array.from({ length: count }, () => randomBytes(PIECE));
    const file = path.join(dir, 'f.part');
    const fd = fs.openSync(file, 'w+');
    try {
      const queue = new VerifyQueue(counted, 2, 8);
      const wrong = new Set([3, 17, 39]);
      const results = await Promise.all(pieces.map((data, i) => {
        const expected = createHash('sha256').update(wrong.has(i) ? Buffer.from('not this piece') : data).digest();
        const buffer = new Uint8Array(data); // a whole buffer of its own: it moves to the thread and back
        return queue.verifyAndWrite({ data: buffer, expected, fd, position: i * PIECE }, buffer.buffer);
      }));
      const written = fs.readFileSync(file);
      results.forEach((r, i) => {
        assert.equal(r.hashOk, !wrong.has(i), `piece ${i}`);
        assert.equal(r.writeError, undefined);
        assert.equal(r.data?.length, PIECE, `piece ${i}'s buffer comes back`);
        const at = written.subarray(i * PIECE, (i + 1) * PIECE);
        if (!wrong.has(i)) assert.ok(at.equals(pieces[i]!), `piece ${i} on disk`);
      });
      assert.ok(jobs.length < count / 2, `${count} pieces given at once went in ${jobs.length} jobs`);
      assert.ok(jobs.every((j) => j.kind === 'verify-write' && j.pieces.length <= 8));
    } finally {
      fs.closeSync(fd);
    }
  });

  it('sends a lone piece at once, in a job of its own', async () => {
    const fd = fs.openSync(path.join(dir, 'g.part'), 'w+');
    try {
      const queue = new VerifyQueue(counted, 2, 8);
      const data = new Uint8Array(randomBytes(PIECE));
      const r = await queue.verifyAndWrite({ data, expected: createHash('sha256').update(data).digest(), fd, position: 0 }, data.buffer);
      assert.equal(r.hashOk, true);
      assert.equal(jobs.length, 1);
    } finally {
      fs.closeSync(fd);
    }
  });

  it('fails the pieces waiting when the pool can no longer be had', async () => {
    const queue = new VerifyQueue(() => { throw new Error('the piece store has stopped'); }, 2, 8);
    const data = new Uint8Array(PIECE);
    await assert.rejects(queue.verifyAndWrite({ data, expected: new Uint8Array(32), fd: -1, position: 0 }), /stopped/);
  });
});
