// Reading a dialed socket into one buffer that every such socket on this
// thread shares (Node's `onread`), instead of a fresh 64 KiB buffer per read:
// a 256 MiB download was 4,096 allocations of external memory, and the garbage
// collector ran full collections to chase them. The bytes are only valid
// during the call that hands them over, so a reader copies what it keeps.
// Reads are delivered one at a time on this thread, so sharing is safe.
import type { OnReadOpts } from 'node:net';

/** Bytes of one read at most: fewer, larger reads than Node's 64 KiB. */
const READ_BYTES = 256 * 1024;
/** Bytes that may arrive before the connection's actor attaches (its hello, and little more). */
const MAX_EARLY_BYTES = 4 * 1024 * 1024;

let shared: Buffer | undefined;

/** `chunk` is valid only during the call when `transient`. */
export type ChunkHandler = (chunk: Uint8Array, transient: boolean) => void;

export class SocketReader {
  private handler?: ChunkHandler;
  private early: Uint8Array[] = [];
  private earlyBytes = 0;

  /** Give this as `onread` when connecting; `overflow` is called when too much arrives before `attach`. */
  options(overflow: () => void): OnReadOpts {
    shared ??= Buffer.allocUnsafeSlow(READ_BYTES);
    return {
      buffer: shared,
      callback: (bytes: number, buffer: Uint8Array) => {
        const chunk = buffer.subarray(0, bytes);
        if (this.handler) {
          this.handler(chunk, true);
        } else if ((this.earlyBytes += bytes) > MAX_EARLY_BYTES) {
          overflow();
        } else {
          this.early.push(Uint8Array.from(chunk));
        }
        return true;
      },
    };
  }

  /** From now on chunks go to `handler`, those that came before first. */
  attach(handler: ChunkHandler): void {
    this.handler = handler;
    for (const chunk of this.early.splice(0)) handler(chunk, false);
    this.earlyBytes = 0;
  }
}
