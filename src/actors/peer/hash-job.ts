// Piscina worker: SHA-256 off the actors' threads. Two jobs: hash one piece
// held in memory (the store assembles pieces in SharedArrayBuffers, so the
// bytes are read here in place, never copied), and hash every piece of a file
// on disk when a folder is first shared.
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';

export type HashTask =
  | { kind: 'piece'; data: Uint8Array }
  | { kind: 'file'; path: string; pieceSize: number; size: number };

export type HashResult =
  | { kind: 'piece'; digest: Uint8Array }
  | { kind: 'file'; hashes: Uint8Array[] };

const READ_CHUNK = 1 << 20;

export default async function hash(task: HashTask): Promise<HashResult> {
  if (task.kind === 'piece') {
    return { kind: 'piece', digest: new Uint8Array(createHash('sha256').update(task.data).digest()) };
  }
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
