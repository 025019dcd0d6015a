// SizeWriter: the size it measures is the encoded length protobufjs writes,
// for messages nested several deep with bytes fields on either side of the
// limit; a message with nothing over the limit comes out byte for byte.
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { p2p } from '../../src/gen/proto';
import { SizeWriter } from '../../src/runtime/size-writer';

const LIMIT = 512;
const bytes = (max: number) => fc.uint8Array({ maxLength: max });
const ref = fc.record({ host: fc.nat(8), id: fc.string({ maxLength: 12 }), inbox: fc.string({ maxLength: 30 }) });
// StoreCommand > WritePiece > ActorRef, and StoreCommand > OpenDownload > Manifest > repeated bytes.
const storeCommand = fc.oneof(
  fc.record({ writePiece: fc.record({ contentId: bytes(40), piece: fc.nat(), data: bytes(3 * LIMIT), session: ref, peerId: bytes(40) }) }),
  fc.record({
    openDownload: fc.record({
      contentId: bytes(40),
      manifest: fc.record({
        name: fc.string({ maxLength: 200 }), size: fc.nat(), pieceSize: fc.nat(),
        pieceHashes: fc.array(bytes(2 * LIMIT), { maxLength: 6 }),
      }),
    }),
  }),
);

describe('SizeWriter (measures messages without copying their large bytes)', () => {
  it('measures the encoded length of any message, and writes a small one byte for byte', () => {
    const writer = new SizeWriter(LIMIT); // one writer for every message, as the host uses it
    fc.assert(fc.property(storeCommand, (message) => {
      const encoded = p2p.v1.StoreCommand.encode(message).finish();
      p2p.v1.StoreCommand.encode(message, writer.emptied());
      assert.equal(writer.size, encoded.length);
      if (writer.whole) assert.deepEqual(Buffer.from(writer.finish()), Buffer.from(encoded));
    }), { numRuns: 500 });
  });

  it('counts a 256 KiB piece without copying it', () => {
    const data = new Uint8Array(256 * 1024);
    const writer = new SizeWriter(LIMIT).emptied();
    p2p.v1.StoreCommand.encode({ writePiece: { contentId: new Uint8Array(32), piece: 7, data } }, writer);
    assert.equal(writer.size, p2p.v1.StoreCommand.encode({ writePiece: { contentId: new Uint8Array(32), piece: 7, data } }).finish().length);
    assert.equal(writer.whole, false);
    assert.ok(writer.pos < 100, `only the small fields were written (${writer.pos} bytes)`);
  });
});
