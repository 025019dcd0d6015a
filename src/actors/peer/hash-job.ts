// Piscina worker: SHA-256 and disk writes off the actors' threads. Two jobs:
// verify one downloaded piece and, if its hash is right, write it at its place
// in NAME.part (the piece arrives in a transfer list and its buffer goes back
// in one, so it is never copied and is reused for the next piece; file
// descriptors are process-wide, so the store's open file is used here);
// and hash every piece of a file on disk when a folder is first shared.
import { createHash } from 'node:crypto';
import { writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { isWholeBuffer } from './piece-buffers';

export type HashTask =
  | { kind: 'verify-write'; data: Uint8Array; expected: Uint8Array; fd: number; position: number }
  | { kind: 'file'; path: string; pieceSize: number; size: number };

export type HashResult =
  | { kind: 'verify-write'; hashOk: boolean; writeError?: string; data?: Uint8Array }
  | { kind: 'file'; hashes: Uint8Array[] };

const READ_CHUNK = 1 << 20;

export default async function hash(task: HashTask): Promise<HashResult> {
  if (task.kind === 'verify-write') return handBack(verifyAndWrite(task), task.data);
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

/** The result, with the piece's buffer moved back to the caller when the whole buffer is the piece's. */
function handBack(result: HashResult, data: Uint8Array): HashResult {
  if (!isWholeBuffer(data)) return result;
  const value = { ...result, data };
  return move({
    get [transferableSymbol]() { return [data.buffer]; },
    get [valueSymbol]() { return value; },
  }) as unknown as HashResult;
}

function verifyAndWrite(task: Extract<HashTask, { kind: 'verify-write' }>): HashResult {
  const digest = createHash('sha256').update(task.data).digest();
  if (!digest.equals(task.expected)) return { kind: 'verify-write', hashOk: false };
  try {
    for (let done = 0; done < task.data.length;) {
      done += writeSync(task.fd, task.data, done, task.data.length - done, task.position + done);
    }
    return { kind: 'verify-write', hashOk: true };
  } catch (err) {
    return { kind: 'verify-write', hashOk: true, writeError: (err as Error).message };
  }
}
