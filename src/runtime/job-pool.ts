// CPU-bound jobs (hashing pieces) run on a piscina thread pool, off the
// actors' threads, so a mailbox never stalls behind a long computation.
// Buffers given in `transfer` move to the pool thread instead of being copied.
import type { Piscina } from 'piscina';

/**
 * Jobs handed to one pool thread before it reports back. With one at a time
 * the thread slept after every job until the actor's thread, busy with its
 * sockets, took the result and posted the next; with a queue it goes from one
 * job to the next. Loopback pair, 256 MiB, side by side: 1 -> 225.6 MB/s,
 * 4 -> 260.7, 16 -> 271.1 (leecher CPU 1.27 -> 1.09 s). Every thread starts
 * with the pool: piscina gives a job to an idle thread first, but starts a new
 * one only when the others are full, which with queues this deep is never.
 */
const JOBS_QUEUED_PER_THREAD = 16;

export class JobPool<Task, Result> {
  private readonly pool: Piscina;

  constructor(workerFile: string, maxThreads: number) {
    // Required here, not at the top: only the thread that runs jobs loads piscina.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Piscina: Pool } = require('piscina') as typeof import('piscina');
    this.pool = new Pool({
      filename: workerFile, minThreads: maxThreads, maxThreads, idleTimeout: 30_000, concurrentTasksPerWorker: JOBS_QUEUED_PER_THREAD,
    });
  }

  run(task: Task, transfer: ArrayBuffer[] = []): Promise<Result> {
    return this.pool.run(task, { transferList: transfer }) as Promise<Result>;
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}
