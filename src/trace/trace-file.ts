// Trace files: a stream of varint-length-delimited p2p.v1.TraceRecord
// messages. Writing appends whole batches; reading returns every whole record
// up to the end or to the first damage, and says where and why it stopped.
import * as fs from 'node:fs';
import { p2p } from '../gen/proto';

/** No record is larger than this (a traced block with its payload is ~16 KiB). */
export const MAX_RECORD_BYTES = 4 * 1024 * 1024;

export interface TraceRead {
  records: p2p.v1.TraceRecord[];
  /** Bytes consumed: the end of the last whole record. */
  consumed: number;
  /** Set when reading stopped before the end of the bytes given. */
  damage?: { offset: number; reason: string };
  /** True when the bytes end inside a record (a trace still being written, or cut short). */
  partial: boolean;
}

/**
 * Reads whole records from `bytes`. A record that cannot be decoded, or a
 * length over MAX_RECORD_BYTES, stops the reading there (`damage`); bytes
 * that end inside a record stop it too (`partial`), so a growing file can be
 * read again from `consumed`.
 */
export function readTraceRecords(bytes: Uint8Array, maxRecords = Infinity): TraceRead {
  const records: p2p.v1.TraceRecord[] = [];
  let at = 0;
  while (at < bytes.length && records.length < maxRecords) {
    let length = 0;
    let shift = 0;
    let i = at;
    for (;;) {
      if (i >= bytes.length) return { records, consumed: at, partial: true };
      const b = bytes[i++]!;
      length += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if (b < 0x80) break;
      if (i - at >= 5) return { records, consumed: at, partial: false, damage: { offset: at, reason: 'a record length longer than 5 bytes' } };
    }
    if (length > MAX_RECORD_BYTES) {
      return { records, consumed: at, partial: false, damage: { offset: at, reason: `a record of ${length} bytes (the limit is ${MAX_RECORD_BYTES})` } };
    }
    if (i + length > bytes.length) return { records, consumed: at, partial: true };
    try {
      records.push(p2p.v1.TraceRecord.decode(bytes.subarray(i, i + length)));
    } catch (err) {
      return { records, consumed: at, partial: false, damage: { offset: at, reason: `an undecodable record (${(err as Error).message})` } };
    }
    at = i + length;
  }
  return { records, consumed: at, partial: false };
}

/** Appends batches of records to a file, creating or emptying it first. */
export class TraceFileWriter {
  private fd: number;
  bytes = 0;

  constructor(readonly path: string) {
    this.fd = fs.openSync(path, 'w');
  }

  write(records: Uint8Array): void {
    if (this.fd < 0) return;
    for (let done = 0; done < records.length;) done += fs.writeSync(this.fd, records, done, records.length - done);
    this.bytes += records.length;
  }

  close(): void {
    if (this.fd < 0) return;
    fs.closeSync(this.fd);
    this.fd = -1;
  }
}
