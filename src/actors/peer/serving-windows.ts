// The windows a connection serves blocks from: spans of a piece read whole
// from the store, cached by key while their blocks go out. Their buffers come
// from the thread's pool (piece-buffers) and go back to it once a window is
// out of the cache and nothing uses it any more: no block waits to be sent
// from it and no socket write of it is pending. Before, every window was a
// fresh 256 KiB allocation, and the garbage collector chased a file's worth of
// external memory on every upload.
import { givePieceBuffer } from './piece-buffers';

/** What the store answered (p2p.v1.BlockData): the window's bytes, or why not. */
export interface WindowRead {
  data?: Uint8Array | null;
  error?: string | null;
}

export class ServingWindow {
  /** Serving turns and socket writes using the buffer now. */
  users = 0;
  evicted = false;
  private settled?: WindowRead;

  constructor(readonly read: Promise<WindowRead>) {
    void read.then((r) => {
      this.settled = r;
      this.giveBackIfUnused();
    });
  }

  /** What the store answered, once it has (and until the buffer is given back). */
  get ready(): WindowRead | undefined {
    return this.evicted ? undefined : this.settled;
  }

  giveBackIfUnused(): void {
    if (!this.evicted || this.users > 0 || !this.settled) return;
    givePieceBuffer(this.settled.data ?? undefined);
    this.settled = {}; // given once
  }
}

export class ServingWindows {
  private readonly cached = new Map<string, ServingWindow>();

  constructor(private readonly capacity: number) {}

  /** The window cached under `key`, or a new one read with `read` (the oldest is evicted past capacity). */
  get(key: string, read: () => Promise<WindowRead>): ServingWindow {
    let w = this.cached.get(key);
    if (!w) {
      w = new ServingWindow(read().catch((err: Error): WindowRead => ({ error: err.message })));
      this.cached.set(key, w);
      if (this.cached.size > this.capacity) {
        const [oldestKey, oldest] = this.cached.entries().next().value!;
        this.cached.delete(oldestKey);
        oldest.evicted = true;
        oldest.giveBackIfUnused();
      }
    }
    return w;
  }

  /** `w`'s buffer stays out of the pool until as many `release` calls. */
  hold(w: ServingWindow): void {
    w.users++;
  }

  release(w: ServingWindow): void {
    w.users--;
    w.giveBackIfUnused();
  }

  /** The connection is gone: forget every window, giving none back (the socket may still hold their bytes). */
  clear(): void {
    this.cached.clear();
  }
}
