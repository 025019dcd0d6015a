// `p2p inspect FILE`: a trace decoded, one message a line (or NDJSON with
// --json), filtered by --type, --peer and --actor; --stats sums it up per
// message type and per peer; --follow keeps reading a trace being written.
// A damaged or truncated trace is read up to the damage, and says where.
import * as fs from 'node:fs';
import { parseFlags, UsageError } from './args';
import { readTraceRecords } from '../trace/trace-file';
import { ActorNames, describe, matches, toJson, toLine, type Described, type TraceFilter } from '../trace/describe';

export const INSPECT_USAGE = `usage: p2p inspect FILE [--json] [--type NAME] [--peer ID] [--actor NAME] [--stats] [--follow]

Shows a trace written by --trace FILE or !trace on FILE, one message a line:
time, thread, direction and endpoints (or sender and receiver actors), the
message type and its important fields.

  --json         one JSON object per line instead (NDJSON), for scripts
  --type NAME    only this message type: a case (block, announceRequest, writePiece)
                 or a type (PeerFrame, TrackerPacket, StoreCommand)
  --peer ID      only wire messages with this peer (id prefix, or address)
  --actor NAME   only messages from or to this actor (behaviour, e.g. PieceStore, or id)
  --stats        counts and bytes per message type and per peer, instead of the messages
  --follow       keep reading as the trace grows (Ctrl+C to stop)
`;

const FOLLOW_POLL_MS = 250;

interface Stats {
  byType: Map<string, { count: number; bytes: number }>;
  byPeer: Map<string, { count: number; bytes: number }>;
  records: number;
}

export async function runInspect(argv: string[]): Promise<number> {
  const { flags, rest } = parseFlags(argv, {
    json: 'boolean', type: 'string', peer: 'string', actor: 'string', stats: 'boolean', follow: 'boolean', help: 'boolean',
  });
  if (flags.help) {
    process.stdout.write(INSPECT_USAGE);
    return 0;
  }
  if (rest.length !== 1) throw new UsageError('inspect needs one trace file');
  const file = rest[0]!;
  if (!fs.existsSync(file)) throw new UsageError(`no such file: ${file}`);
  const filter: TraceFilter = { type: flags.type as string | undefined, peer: flags.peer as string | undefined, actor: flags.actor as string | undefined };
  const names = new ActorNames();
  const stats: Stats = { byType: new Map(), byPeer: new Map(), records: 0 };
  const out = (line: string) => process.stdout.write(line + '\n');
  const show = (d: Described) => {
    if (!matches(d, filter, names)) return;
    if (flags.stats) addToStats(stats, d);
    else out(flags.json ? JSON.stringify(toJson(d, names)) : toLine(d, names));
  };

  let offset = 0;
  let pending: Buffer = Buffer.alloc(0);
  let total = 0;
  let recordsRead = 0;
  const readMore = (): { damage?: string; partialAt?: number } => {
    const fresh = readFrom(file, offset);
    offset += fresh.length;
    const bytes = pending.length ? Buffer.concat([pending, fresh]) : fresh;
    const read = readTraceRecords(bytes);
    // Each thread sends its records in batches: put them back in time order.
    const ordered = read.records.map((r, i) => ({ r, i })).sort((a, b) => (a.r.timeMs ?? 0) - (b.r.timeMs ?? 0) || a.i - b.i);
    for (const r of read.records) names.learn(r);
    for (const { r } of ordered) show(describe(r));
    recordsRead += read.records.length;
    const base = total;
    total += read.consumed;
    pending = bytes.subarray(read.consumed);
    if (read.damage) return { damage: `the trace is damaged at byte ${base + read.damage.offset} (after ${recordsRead} whole records): ${read.damage.reason}; nothing after it is shown` };
    return read.partial ? { partialAt: base + read.consumed } : {};
  };

  const first = readMore();
  if (first.damage) {
    if (flags.stats) printStats(stats, out);
    process.stderr.write(`inspect: ${first.damage}\n`);
    return 1;
  }
  if (!flags.follow) {
    if (flags.stats) printStats(stats, out);
    if (first.partialAt !== undefined) {
      process.stderr.write(`inspect: the trace ends in the middle of a record at byte ${first.partialAt} (cut short, or still being written); everything before it is shown\n`);
    }
    return 0;
  }
  return new Promise<number>((resolve) => {
    const timer = setInterval(() => {
      const r = readMore();
      if (r.damage) {
        clearInterval(timer);
        process.stderr.write(`inspect: ${r.damage}\n`);
        resolve(1);
      }
    }, FOLLOW_POLL_MS);
    process.once('SIGINT', () => {
      clearInterval(timer);
      if (flags.stats) printStats(stats, out);
      resolve(0);
    });
  });
}

function readFrom(file: string, offset: number): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    if (size <= offset) return Buffer.alloc(0);
    const buf = Buffer.allocUnsafe(size - offset);
    let got = 0;
    while (got < buf.length) {
      const n = fs.readSync(fd, buf, got, buf.length - got, offset + got);
      if (n === 0) break;
      got += n;
    }
    return buf.subarray(0, got);
  } finally {
    fs.closeSync(fd);
  }
}

function addToStats(stats: Stats, d: Described): void {
  stats.records++;
  const r = d.record;
  const bytes = r.wire ? r.wire.wireBytes ?? 0 : r.actor ? r.actor.bytes ?? 0 : 0;
  const key = r.wire ? `${d.label} ${r.wire.direction === 2 ? 'out' : 'in'}` : d.kind === 'actor' ? d.label : d.kind;
  const t = stats.byType.get(key) ?? { count: 0, bytes: 0 };
  t.count++;
  t.bytes += bytes;
  stats.byType.set(key, t);
  if (r.wire) {
    const peer = r.wire.remote ?? '?';
    const p = stats.byPeer.get(peer) ?? { count: 0, bytes: 0 };
    p.count++;
    p.bytes += bytes;
    stats.byPeer.set(peer, p);
  }
}

function printStats(stats: Stats, out: (line: string) => void): void {
  const table = (title: string, m: Map<string, { count: number; bytes: number }>) => {
    out(title);
    const rows = [...m].sort((a, b) => b[1].bytes - a[1].bytes || b[1].count - a[1].count);
    const width = Math.max(10, ...rows.map(([k]) => k.length));
    for (const [k, v] of rows) out(`  ${k.padEnd(width)} ${String(v.count).padStart(8)} msgs ${String(v.bytes).padStart(12)} bytes`);
  };
  out(`${stats.records} records`);
  table('per message type (wire: with direction):', stats.byType);
  table('per remote endpoint (wire messages):', stats.byPeer);
}
