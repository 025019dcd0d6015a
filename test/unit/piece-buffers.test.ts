// The per-thread pool of piece buffers: only whole buffers of their own come
// back, never twice, and the pool keeps a bounded number of bytes.
import { strict as assert } from 'node:assert';
import { givePieceBuffer, keptPieceBytes, takePieceBuffer } from '../../src/actors/peer/piece-buffers';

describe('piece buffers', () => {
  it('hands a given buffer out again for the same length, once', () => {
    const a = takePieceBuffer(4096);
    const before = keptPieceBytes();
    givePieceBuffer(a);
    givePieceBuffer(a);
    assert.equal(keptPieceBytes(), before + 4096, 'kept once');
    const b = takePieceBuffer(4096);
    assert.equal(b.buffer, a.buffer);
    assert.notEqual(takePieceBuffer(4096).buffer, a.buffer);
  });

  it('keeps no view into a larger buffer and no buffer moved to another thread', () => {
    const before = keptPieceBytes();
    givePieceBuffer(Buffer.allocUnsafeSlow(8192).subarray(0, 4096));
    const moved = new Uint8Array(new ArrayBuffer(4096));
    structuredClone(moved.buffer, { transfer: [moved.buffer] });
    givePieceBuffer(moved);
    assert.equal(keptPieceBytes(), before);
  });

  it('keeps at most 32 MiB', () => {
    const size = 1 << 20;
    for (let i = 0; i < 40; i++) givePieceBuffer(Buffer.allocUnsafeSlow(size));
    assert.ok(keptPieceBytes() <= 32 * size);
    for (let i = 0; i < 40; i++) takePieceBuffer(size); // leave the pool as it was
  });
});
