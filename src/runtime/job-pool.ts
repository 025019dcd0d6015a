// CPU-bound jobs (hashing pieces) run on a piscina thread pool, off the
// actors' threads, so a mailbox never stalls behind a long computation.
// Buffers given in `transfer` move to the pool thread instead of being copied.
import type { Piscina } from 'piscina';

export class JobPool<Task, Result> {
  private readonly pool: Piscina;

  constructor(workerFile: string, maxThreads: number) {
    // Required here, not at the top: only the thread that runs jobs loads piscina.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Piscina: Pool } = require('piscina') as typeof import('piscina');
    this.pool = new Pool({ filename: workerFile, minThreads: 1, maxThreads, idleTimeout: 30_000 });
  }

  run(task: Task, transfer: ArrayBuffer[] = []): Promise<Result> {
    return this.pool.run(task, { transferList: transfer }) as Promise<Result>;
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}
