// Framing of the TCP stream and connection tokens of the UDP tracker.
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { delimit, encodeVarint, FrameDecoder, FrameTooLargeError, MalformedFrameError } from '../../src/core/frame-codec';
import { ConnectTokens } from '../../src/core/connect-token';

const concat = (parts: Uint8Array[]) => Buffer.concat(parts.map((p) => Buffer.from(p)));

describe('frame decoder', () => {
  const frames = [Buffer.alloc(0), Buffer.from('hello'), Buffer.alloc(300, 7), Buffer.alloc(20_000, 1)];
  const stream = concat(frames.map(delimit));

  it('decodes a stream split at every byte offset', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const d = new FrameDecoder(1 << 20);
      const out = [...d.push(stream.subarray(0, cut)), ...d.push(stream.subarray(cut))];
      assert.deepEqual(out.map((f) => Buffer.from(f)), frames, `cut at ${cut}`);
      assert.equal(d.bufferedBytes, 0);
    }
  });

  /** Delimited bodies, and the stream of them cut at random points into the chunks a socket might deliver. */
  const cutStream = fc.record({
    bodies: fc.array(fc.uint8Array({ maxLength: 600 }), { maxLength: 20 }),
    cuts: fc.array(fc.integer({ min: 0, max: 100_000 }), { maxLength: 30 }),
  }).map(({ bodies, cuts }) => {
    const bytes = concat(bodies.map(delimit));
    const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
    const chunks = [...points, bytes.length].map((p, i, all) => bytes.subarray(i === 0 ? 0 : all[i - 1]!, p));
    return { bodies: bodies.map((b) => Buffer.from(b)), chunks };
  });

  it('decodes any stream cut into any pieces', () => {
    fc.assert(fc.property(cutStream, ({ bodies, chunks }) => {
      const d = new FrameDecoder(1000);
      const out = chunks.flatMap((c) => d.push(c));
      assert.deepEqual(out.map((f) => Buffer.from(f)), bodies);
    }));
  });

  it('decodes a stream read into one reused buffer (transient chunks), each frame used before the next read', () => {
    fc.assert(fc.property(cutStream, ({ bodies, chunks }) => {
      const d = new FrameDecoder(1000);
      const readBuffer = new Uint8Array(bodies.reduce((n, b) => n + b.length + 5, 1));
      const out: Buffer[] = [];
      for (const c of chunks) {
        readBuffer.set(c);
        out.push(...d.push(readBuffer.subarray(0, c.length), true).map((f) => Buffer.from(f))); // used now...
        readBuffer.fill(0xee); // ...and the buffer is overwritten by the next read
      }
      assert.deepEqual(out, bodies);
    }));
  });

  it('refuses an oversized frame from its length prefix, before its body arrives', () => {
    const d = new FrameDecoder(1024);
    assert.throws(() => d.push(encodeVarint(1025)), (err: unknown) => err instanceof FrameTooLargeError && err.announced === 1025);
    assert.ok(d.bufferedBytes <= 5);
  });

  it('refuses a length prefix longer than five bytes', () => {
    assert.throws(() => new FrameDecoder(1 << 30).push(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0x01)), MalformedFrameError);
  });

  it('never buffers more than one maximum frame plus a prefix', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 5000 }), (junk) => {
      const d = new FrameDecoder(256);
      try {
        for (let i = 0; i < junk.length; i += 97) d.push(junk.subarray(i, i + 97));
      } catch (err) {
        assert.ok(err instanceof FrameTooLargeError || err instanceof MalformedFrameError);
        return;
      }
      assert.ok(d.bufferedBytes <= 256 + 5);
    }));
  });
});

describe('connection tokens (BEP 15 style)', () => {
  const tokens = new ConnectTokens(Buffer.alloc(32, 9), 60_000);

  it('accepts a token from the address it was issued to, in this epoch and the next', () => {
    const t = tokens.issue('127.0.0.1', 5000, 1_000);
    assert.equal(t.length, 16);
    assert.ok(tokens.verify(t, '127.0.0.1', 5000, 1_000));
    assert.ok(tokens.verify(t, '127.0.0.1', 5000, 61_000));
    assert.ok(!tokens.verify(t, '127.0.0.1', 5000, 121_000), 'expired');
  });

  it('refuses a token from another address or port, and any forged token', () => {
    const t = tokens.issue('127.0.0.1', 5000, 0);
    assert.ok(!tokens.verify(t, '127.0.0.2', 5000, 0));
    assert.ok(!tokens.verify(t, '127.0.0.1', 5001, 0));
    assert.ok(!tokens.verify(undefined, '127.0.0.1', 5000, 0));
    fc.assert(fc.property(fc.uint8Array({ minLength: 0, maxLength: 32 }), (forged) => {
      fc.pre(!Buffer.from(forged).equals(Buffer.from(t)));
      assert.ok(!tokens.verify(forged, '127.0.0.1', 5000, 0));
    }));
  });
});
