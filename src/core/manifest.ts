// A file's manifest (name, size, piece size, SHA-256 of every piece) and its
// content id: SHA-256 over a fixed byte layout of the manifest, never over
// protobuf bytes (protobuf encoding is not canonical). The layout is written
// down in proto/p2p/v1/peer.proto.
import { createHash } from 'node:crypto';
import { EnxameError } from './errors';
import { checkFileName } from './file-name';

export interface ManifestData {
  name: string;
  size: number;
  pieceSize: number;
  pieceHashes: Uint8Array[];
}

export const BLOCK_SIZE = 16 * 1024;
export const DEFAULT_PIECE_SIZE = 256 * 1024;
export const MAX_PIECES = 32 * 1024;
export const MIN_PIECE_SIZE = 16 * 1024;
export const MAX_PIECE_SIZE = 16 * 1024 * 1024;
const MAGIC = Buffer.from('enxame-manifest-v1\0', 'latin1');

export class InvalidManifestError extends EnxameError {
  constructor(message: string) {
    super('INVALID_MANIFEST', `invalid manifest: ${message}`);
  }
}

/** The preferred piece size, doubled until the file has at most MAX_PIECES pieces. */
export function choosePieceSize(fileSize: number, preferred: number = DEFAULT_PIECE_SIZE): number {
  let size = MIN_PIECE_SIZE;
  while (size < preferred && size < MAX_PIECE_SIZE) size *= 2;
  while (Math.ceil(fileSize / size) > MAX_PIECES && size < MAX_PIECE_SIZE) size *= 2;
  return size;
}

export function pieceCount(size: number, pieceSize: number): number {
  return size === 0 ? 0 : Math.ceil(size / pieceSize);
}

export function pieceLength(m: { size: number; pieceSize: number }, index: number): number {
  const start = index * m.pieceSize;
  return Math.max(0, Math.min(m.pieceSize, m.size - start));
}

export function blocksOfPiece(length: number): { offset: number; length: number }[] {
  const blocks: { offset: number; length: number }[] = [];
  for (let offset = 0; offset < length; offset += BLOCK_SIZE) {
    blocks.push({ offset, length: Math.min(BLOCK_SIZE, length - offset) });
  }
  return blocks;
}

export function contentId(m: ManifestData): Uint8Array {
  const name = Buffer.from(m.name, 'utf8');
  const header = Buffer.alloc(2 + name.length + 8 + 4 + 4);
  let at = header.writeUInt16BE(name.length, 0);
  at += name.copy(header, at);
  at = header.writeBigUInt64BE(BigInt(m.size), at);
  at = header.writeUInt32BE(m.pieceSize, at);
  header.writeUInt32BE(m.pieceHashes.length, at);
  const h = createHash('sha256').update(MAGIC).update(header);
  for (const piece of m.pieceHashes) h.update(piece);
  return new Uint8Array(h.digest());
}

export function validateManifest(m: ManifestData): void {
  if (!Number.isSafeInteger(m.size) || m.size < 0) throw new InvalidManifestError(`size ${m.size} is not a byte count`);
  if (!Number.isInteger(m.pieceSize) || m.pieceSize < MIN_PIECE_SIZE || m.pieceSize > MAX_PIECE_SIZE ||
      (m.pieceSize & (m.pieceSize - 1)) !== 0) {
    throw new InvalidManifestError(`piece size ${m.pieceSize} is not a power of two from 16 KiB to 16 MiB`);
  }
  const expected = pieceCount(m.size, m.pieceSize);
  if (m.pieceHashes.length !== expected) {
    throw new InvalidManifestError(`${m.pieceHashes.length} piece hashes for ${expected} pieces`);
  }
  m.pieceHashes.forEach((h, i) => {
    if (h.length !== 32) throw new InvalidManifestError(`hash of piece ${i} has ${h.length} bytes, not 32`);
  });
  try {
    checkFileName(m.name);
  } catch (err) {
    throw new InvalidManifestError((err as Error).message);
  }
}
