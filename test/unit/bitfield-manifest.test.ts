// Bitfields in BEP 3 order, manifests, content ids and file names.
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import fc from 'fast-check';
import { Bitfield, bitfieldFromBytes, InvalidBitfieldError } from '../../src/core/bitfield';
import {
  blocksOfPiece, choosePieceSize, contentId, InvalidManifestError, MAX_PIECES, pieceCount, pieceLength, validateManifest,
  type ManifestData,
} from '../../src/core/manifest';
import { checkFileName, UnsafeFileNameError } from '../../src/core/file-name';

describe('bitfield', () => {
  it('puts piece 0 in the most significant bit', () => {
    const b = new Bitfield(10);
    b.set(0);
    b.set(9);
    assert.deepEqual([...b.toBytes()], [0x80, 0x40]);
    assert.equal(b.count(), 2);
    assert.deepEqual(b.missing(), [1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('round-trips through bytes', () => {
    fc.assert(fc.property(fc.array(fc.boolean(), { maxLength: 100 }), (flags) => {
      const b = new Bitfield(flags.length);
      flags.forEach((f, i) => { if (f) b.set(i); });
      const back = new Bitfield(flags.length, b.toBytes());
      assert.deepEqual(flags.map((_f, i) => back.has(i)), flags);
      assert.equal(back.count(), flags.filter(Boolean).length);
      assert.equal(back.isComplete(), flags.every(Boolean));
    }));
  });

  it('refuses set spare bits and wrong lengths', () => {
    assert.throws(() => new Bitfield(4, Uint8Array.of(0x08)), InvalidBitfieldError);
    assert.throws(() => new Bitfield(9, Uint8Array.of(0xff)), InvalidBitfieldError);
    assert.throws(() => bitfieldFromBytes(8, Uint8Array.of(1, 2), false), InvalidBitfieldError);
    assert.equal(bitfieldFromBytes(8, undefined, false).count(), 0);
    assert.equal(bitfieldFromBytes(8, undefined, true).count(), 8);
  });
});

describe('manifest', () => {
  const hashes = (n: number) => Array.from({ length: n }, (_v, i) => createHash('sha256').update(String(i)).digest());
  const sample: ManifestData = { name: 'a.txt', size: 300_000, pieceSize: 262_144, pieceHashes: hashes(2) };

  it('computes the content id over the documented byte layout', () => {
    const layout = Buffer.concat([
      Buffer.from('enxame-manifest-v1\0', 'latin1'),
      Buffer.from([0, 5]), Buffer.from('a.txt'),
      Buffer.from([0, 0, 0, 0, 0, 0x04, 0x93, 0xe0]), // 300000
      Buffer.from([0, 0x04, 0, 0]), // 262144
      Buffer.from([0, 0, 0, 2]),
      ...sample.pieceHashes,
    ]);
    assert.equal(Buffer.from(contentId(sample)).toString('hex'), createHash('sha256').update(layout).digest('hex'));
  });

  it('changes the content id when any field changes', () => {
    const base = Buffer.from(contentId(sample)).toString('hex');
    const variants: ManifestData[] = [
      { ...sample, name: 'b.txt' }, { ...sample, size: 300_001 }, { ...sample, pieceSize: 524_288, pieceHashes: hashes(1) },
      { ...sample, pieceHashes: [sample.pieceHashes[1]!, sample.pieceHashes[0]!] },
    ];
    for (const v of variants) assert.notEqual(Buffer.from(contentId(v)).toString('hex'), base);
  });

  it('validates sizes, hash counts and names', () => {
    validateManifest(sample);
    assert.throws(() => validateManifest({ ...sample, pieceHashes: hashes(3) }), InvalidManifestError);
    assert.throws(() => validateManifest({ ...sample, pieceSize: 100_000 }), InvalidManifestError);
    assert.throws(() => validateManifest({ ...sample, size: -1 }), InvalidManifestError);
    assert.throws(() => validateManifest({ ...sample, name: '../evil' }), InvalidManifestError);
    assert.throws(() => validateManifest({ ...sample, pieceHashes: [Buffer.alloc(31), Buffer.alloc(32)] }), InvalidManifestError);
  });

  it('splits pieces into 16 KiB blocks and files into pieces', () => {
    assert.equal(pieceCount(0, 16384), 0);
    assert.equal(pieceCount(300_000, 262_144), 2);
    assert.equal(pieceLength(sample, 1), 300_000 - 262_144);
    assert.deepEqual(blocksOfPiece(40_000), [{ offset: 0, length: 16384 }, { offset: 16384, length: 16384 }, { offset: 32768, length: 7232 }]);
    fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 40 }), (size) => {
      const ps = choosePieceSize(size);
      assert.ok(ps >= 262_144 && (ps & (ps - 1)) === 0);
      assert.ok(pieceCount(size, ps) <= MAX_PIECES || ps === 16 * 1024 * 1024);
    }));
  });
});

describe('file names from the network', () => {
  it('refuses names that could leave the download folder or misbehave', () => {
    for (const bad of ['', '.', '..', '../x', 'a/b', 'a\\b', '/etc/passwd', 'x\0y', 'tab\there', 'NUL', 'con.txt', 'lpt1',
      ' lead', 'trail ', 'dot.', 'file.part', 'é'.repeat(200)]) {
      assert.throws(() => checkFileName(bad), UnsafeFileNameError, JSON.stringify(bad));
    }
    for (const ok of ['a.txt', '.hidden', 'relatório final.pdf', 'x'.repeat(255)]) assert.equal(checkFileName(ok), ok);
  });

  it('accepts only names that stay a single entry inside the folder', () => {
    fc.assert(fc.property(fc.string({ maxLength: 40 }), (name) => {
      let accepted: string | undefined;
      try { accepted = checkFileName(name); } catch { return; }
      assert.ok(!accepted.includes('/') && !accepted.includes('\\'));
      assert.ok(accepted !== '.' && accepted !== '..');
      assert.equal(path.basename(accepted), accepted);
      assert.equal(path.dirname(path.join('/downloads', accepted)), '/downloads');
    }), { numRuns: 2000 });
  });
});

describe('manifests from the network (property)', () => {
  it('validateManifest refuses bad ones with InvalidManifestError and nothing else, and what it accepts has a content id', () => {
    fc.assert(fc.property(
      fc.record({
        name: fc.oneof(fc.string({ maxLength: 300 }), fc.constantFrom('../x', '/etc/passwd', 'nul', 'a\u0000b', 'ok.bin')),
        size: fc.oneof(fc.nat(1 << 24), fc.integer(), fc.double()),
        pieceSize: fc.oneof(fc.constantFrom(16384, 262144, 1 << 24), fc.integer()),
        pieceHashes: fc.array(fc.uint8Array({ minLength: 0, maxLength: 40 }), { maxLength: 40 }),
      }),
      (m) => {
        try {
          validateManifest(m);
        } catch (err) {
          assert.ok(err instanceof InvalidManifestError, `${(err as Error).name}: ${(err as Error).message}`);
          return;
        }
        assert.equal(contentId(m).length, 32);
      }), { numRuns: 500 });
  });
});
