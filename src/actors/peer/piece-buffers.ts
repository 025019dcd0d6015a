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

/** Gives a buffer back for reuse; the caller must not touch it afterwards. */
export function givePieceBuffer(data: Uint8Array | undefined): void {
  // Only a whole, live ArrayBuffer of its own (not a view into something else,
  // not one moved away to another thread) can be handed out again.
  if (!data || data.byteLength === 0 || data.byteOffset !== 0 || data.byteLength !== data.buffer.byteLength) return;
  if (!(data.buffer instanceof ArrayBuffer) || keptBytes + data.byteLength > MAX_KEPT_BYTES) return;
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
