// Downloaded pieces on their way to the hashing pool, several to a job when
// they arrive faster than the pool takes them. A job costs the actor's thread
// tens of microseconds in the pool's bookkeeping and a postMessage, as much as
// a quarter of hashing the piece; batched, a busy download pays it once for
// many pieces, and an idle one still sends each piece at once.
import type { JobPool } from '../../runtime';
import type { HashResult, HashTask, PieceToVerify, PieceVerified } from './hash-job';

interface Waiting {
  piece: PieceToVerify;
  /** The piece's buffer, when it can move to the pool thread instead of being copied. */
  transfer?: ArrayBuffer;
  resolve: (result: PieceVerified) => void;
  reject: (err: unknown) => void;
}

export class VerifyQueue {
  private waiting: Waiting[] = [];
  private running = 0;

  /**
   * @param pool the pool, made on first use (it throws once its owner has stopped)
   * @param maxJobs jobs on the pool at once: two per thread keep each thread going from one to the next
   * @param maxPieces pieces in one job at most
   */
  constructor(private readonly pool: () => JobPool<HashTask, HashResult>, private readonly maxJobs: number, private readonly maxPieces: number) {}

  /** Verifies the piece and writes it if its hash is right. */
  verifyAndWrite(piece: PieceToVerify, transfer?: ArrayBuffer): Promise<PieceVerified> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ piece, transfer, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.running < this.maxJobs && this.waiting.length > 0) {
      const batch = this.waiting.splice(0, this.maxPieces);
      let pool: JobPool<HashTask, HashResult>;
      try {
        pool = this.pool();
      } catch (err) {
        for (const w of batch) w.reject(err);
        continue;
      }
      this.running++;
      // A buffer listed twice would fail the whole postMessage.
      const transfer = [...new Set(batch.flatMap((w) => (w.transfer ? [w.transfer] : [])))];
      pool.run({ kind: 'verify-write', pieces: batch.map((w) => w.piece) }, transfer)
        .then((result) => {
          if (result.kind !== 'verify-write' || result.pieces.length !== batch.length) throw new Error('unexpected hash result');
          batch.forEach((w, i) => w.resolve(result.pieces[i]!));
        })
        .catch((err: unknown) => { for (const w of batch) w.reject(err); })
        .finally(() => {
          this.running--;
          this.dispatch();
        });
    }
  }
}
