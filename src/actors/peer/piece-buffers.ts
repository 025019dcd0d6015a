// Piece-sized buffers, reused on this thread. A connection assembles each
// downloaded piece in one; the buffer goes to the store with the piece (same
// thread: not copied), moves to the hashing thread and back in transfer
// lists, and the store gives it back here for the next piece. Without reuse
// every piece was a fresh 256 KiB allocation: new pages for the kernel to
// fault in and zero, and external memory for the garbage collector to chase.
const MAX_KEPT_BYTES = 32 * 1024 * 1024;

const kept = new Map<number, Buffer[]>();
let keptBytes = 0;

/** A buffer of exactly `length` bytes, contents undefined. */
export function takePieceBuffer(length: number): Buffer {
  const list = kept.get(length);
  const buffer = list?.pop();
  if (buffer) {
    keptBytes -= length;
    return buffer;
  }
  return Buffer.allocUnsafeSlow(length);
}

/**
 * True when `data` is the whole of a live ArrayBuffer (not a view into
 * something larger, not moved away to another thread): only such a buffer can
 * be moved between threads or handed out again without taking others' bytes.
 */
export function isWholeBuffer(data: Uint8Array): boolean {
  return data.byteLength > 0 && data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && data.buffer instanceof ArrayBuffer;
}

/** Gives a buffer back for reuse; the caller must not touch it afterwards. */
export function givePieceBuffer(data: Uint8Array | undefined): void {
  if (!data || !isWholeBuffer(data) || keptBytes + data.byteLength > MAX_KEPT_BYTES) return;
  const buffer = Buffer.from(data.buffer, 0, data.byteLength);
  let list = kept.get(buffer.length);
  if (!list) kept.set(buffer.length, (list = []));
  if (list.length > 0 && list.some((b) => b.buffer === buffer.buffer)) return; // given twice
  list.push(buffer);
  keptBytes += buffer.length;
}

/** Bytes kept for reuse now (for tests). */
export function keptPieceBytes(): number {
  return keptBytes;
}
