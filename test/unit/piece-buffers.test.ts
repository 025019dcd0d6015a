// The per-thread pool of piece buffers: only whole buffers of their own come
// back, never twice, and the pool keeps a bounded number of bytes; a window
// served from goes back only when evicted and no longer used.
import { strict as assert } from 'node:assert';
import { givePieceBuffer, keptPieceBytes, takePieceBuffer } from '../../src/actors/peer/piece-buffers';
import { ServingWindows } from '../../src/actors/peer/serving-windows';

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

describe('serving windows', () => {
  const size = 12_288; // a length no other test pools
  const isKept = (data: Uint8Array) => {
    const again = takePieceBuffer(size);
    const kept = again.buffer === data.buffer;
    if (!kept) givePieceBuffer(again);
    return kept;
  };
  const readNow = (data: Uint8Array) => () => Promise.resolve({ data });
  const settle = () => new Promise((resolve) => setImmediate(resolve));

  it('gives an evicted window back to the pool only once nothing uses it', async () => {
    const windows = new ServingWindows(1);
    const a = takePieceBuffer(size);
    const wa = windows.get('a', readNow(a));
    windows.hold(wa); // a block of it waits to be written
    windows.get('b', readNow(takePieceBuffer(size))); // evicts a
    await settle();
    assert.ok(wa.evicted);
    assert.ok(!isKept(a), 'not back while held');
    windows.release(wa);
    assert.ok(isKept(a), 'back once released');
  });

  it('keeps a cached window, waits for a read in flight, and gives nothing back after clear', async () => {
    const windows = new ServingWindows(2);
    const a = takePieceBuffer(size);
    let finish!: () => void;
    const slow = () => new Promise<{ data: Uint8Array }>((resolve) => { finish = () => resolve({ data: a }); });
    windows.get('a', slow);
    assert.equal(windows.get('a', () => { throw new Error('read twice'); }).evicted, false, 'cached: not read again');
    windows.get('b', readNow(takePieceBuffer(size)));
    windows.get('c', readNow(takePieceBuffer(size))); // evicts a, still being read
    await settle();
    assert.ok(!isKept(a), 'not back before its read ends');
    finish();
    await settle();
    assert.ok(isKept(a), 'back when its read ends');
    const c = takePieceBuffer(size);
    windows.get('d', readNow(c));
    windows.clear();
    windows.get('e', readNow(takePieceBuffer(size)));
    windows.get('f', readNow(takePieceBuffer(size)));
    windows.get('g', readNow(takePieceBuffer(size)));
    await settle();
    assert.ok(!isKept(c), 'a window forgotten by clear is never given back');
  });
});
