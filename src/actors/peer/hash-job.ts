// Piscina worker: SHA-256 and disk writes off the actors' threads. Two jobs:
// verify downloaded pieces (one or several) and write each whose hash is
// right at its place in NAME.part (pieces arrive in a transfer list and their
// buffers go back in one, so they are never copied and are reused for the
// next pieces; file descriptors are process-wide, so the store's open file is
// used here); and hash every piece of a file on disk when a folder is first
// shared.
import { createHash } from 'node:crypto';
import { writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { isWholeBuffer } from './piece-buffers';

/** A downloaded piece, its expected SHA-256, and where it goes in the open NAME.part. */
export interface PieceToVerify {
  data: Uint8Array;
  expected: Uint8Array;
  fd: number;
  position: number;
}

/** `data` comes back (moved) when it was a whole buffer of its own, for the next piece. */
export interface PieceVerified {
  hashOk: boolean;
  writeError?: string;
  data?: Uint8Array;
}

export type HashTask =
  | { kind: 'verify-write'; pieces: PieceToVerify[] }
  | { kind: 'file'; path: string; pieceSize: number; size: number };

export type HashResult =
  | { kind: 'verify-write'; pieces: PieceVerified[] }
  | { kind: 'file'; hashes: Uint8Array[] };

const READ_CHUNK = 1 << 20;

export default async function hash(task: HashTask): Promise<HashResult> {
  if (task.kind === 'verify-write') return handBack(task.pieces.map(verifyAndWrite), task.pieces.map((p) => p.data));
  const hashes: Uint8Array[] = [];
  const file = await open(task.path, 'r');
  try {
    const buffer = Buffer.allocUnsafe(Math.min(READ_CHUNK, Math.max(task.pieceSize, 1)));
    for (let start = 0; start < task.size; start += task.pieceSize) {
      const end = Math.min(task.size, start + task.pieceSize);
      const h = createHash('sha256');
      for (let pos = start; pos < end;) {
        const want = Math.min(buffer.length, end - pos);
        const { bytesRead } = await file.read(buffer, 0, want, pos);
        if (bytesRead === 0) throw new Error(`${task.path} shrank while it was being hashed`);
        h.update(buffer.subarray(0, bytesRead));
        pos += bytesRead;
      }
      hashes.push(new Uint8Array(h.digest()));
    }
  } finally {
    await file.close();
  }
  return { kind: 'file', hashes };
}

/** The results, with each piece's buffer moved back when the whole buffer is the piece's. */
function handBack(pieces: PieceVerified[], data: Uint8Array[]): HashResult {
  const moved: ArrayBuffer[] = [];
  data.forEach((d, i) => {
    if (!isWholeBuffer(d) || moved.includes(d.buffer as ArrayBuffer)) return;
    pieces[i]!.data = d;
    moved.push(d.buffer as ArrayBuffer);
  });
  const value: HashResult = { kind: 'verify-write', pieces };
  if (moved.length === 0) return value;
  return move({
    get [transferableSymbol]() { return moved; },
    get [valueSymbol]() { return value; },
  }) as unknown as HashResult;
}

function verifyAndWrite(piece: PieceToVerify): PieceVerified {
  const digest = createHash('sha256').update(piece.data).digest();
  if (!digest.equals(piece.expected)) return { hashOk: false };
  try {
    for (let done = 0; done < piece.data.length;) {
      done += writeSync(piece.fd, piece.data, done, piece.data.length - done, piece.position + done);
    }
    return { hashOk: true };
  } catch (err) {
    return { hashOk: true, writeError: (err as Error).message };
  }
}
