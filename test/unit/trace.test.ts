// The trace format and the inspector: a known trace reads back as known lines,
// JSON and stats; damaged and truncated files are read up to the damage with a
// clear message; random and mutated files never make the reader throw.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { Writer } from 'protobufjs';
import { p2p } from '../../src/gen/proto';
import { readTraceRecords } from '../../src/trace/trace-file';
import { ActorNames, describe as describeRecord, matches, toJson, toLine } from '../../src/trace/describe';
import { P2P_BIN } from '../../src/cli/spawned';
import { Tracer, wireTemplate, type WireTrace } from '../../src/runtime/tracer';

const T0 = Date.UTC(2026, 0, 2, 3, 4, 5);
const contentId = new Uint8Array(32).fill(0xab);
const peerId = new Uint8Array(16).fill(0x11);
const { Transport, Direction } = p2p.v1.WireEvent;

const KNOWN: p2p.v1.TraceRecord.$Properties[] = [
  { timeMs: T0, host: 'main', started: { role: 'peer', peerId: new Uint8Array(16).fill(1), version: '0.1.0' } },
  { timeMs: T0 + 1, host: 'store', spawned: { id: '2.1', behavior: 'peer.PieceStore' } },
  { timeMs: T0 + 2, host: 'net', spawned: { id: '1.7', behavior: 'peer.PeerConnection' } },
  {
    timeMs: T0 + 10, host: 'net', wire: {
      transport: Transport.UDP, direction: Direction.OUT, local: '0.0.0.0:5000', remote: '127.0.0.1:9090', messageType: 'p2p.v1.TrackerPacket',
      message: p2p.v1.TrackerPacket.encode({ transactionId: 7, connectRequest: { protocolVersion: 1 } }).finish(), wireBytes: 8, actor: '1.3',
    },
  },
  {
    timeMs: T0 + 20, host: 'net', wire: {
      transport: Transport.TCP, direction: Direction.OUT, local: '127.0.0.1:1000', remote: '127.0.0.1:2000', messageType: 'p2p.v1.PeerFrame',
      message: p2p.v1.PeerFrame.encode({ blockRequest: { contentId, piece: 3, offset: 16384, length: 16384 } }).finish(),
      wireBytes: 44, remotePeerId: peerId, actor: '1.7',
    },
  },
  {
    timeMs: T0 + 25, host: 'net', wire: {
      transport: Transport.TCP, direction: Direction.IN, local: '127.0.0.1:1000', remote: '127.0.0.1:2000', messageType: 'p2p.v1.PeerFrame',
      message: p2p.v1.PeerFrame.encode({ block: { contentId, piece: 3, offset: 16384 } }).finish(),
      wireBytes: 16429, payloadBytes: 16384, payloadCrc32: 0x0badf00d, remotePeerId: peerId, actor: '1.7',
    },
  },
  { timeMs: T0 + 30, host: 'store', actor: { from: '1.7', to: '2.1', type: 'p2p.v1.StoreCommand', bodyCase: 'writePiece', bytes: 262_200 } },
];

const EXPECTED_LINES = [
  '03:04:05.000 main     trace started: peer 01010101  (payloads left out, 0.1.0)',
  '03:04:05.001 store    spawned peer.PieceStore(2.1)',
  '03:04:05.002 net      spawned peer.PeerConnection(1.7)',
  '03:04:05.010 net      UDP out 0.0.0.0:5000 -> 127.0.0.1:9090  TrackerPacket.connectRequest protocolVersion=1 (8 B)',
  `03:04:05.020 net      TCP out 127.0.0.1:1000 -> 127.0.0.1:2000 peer 11111111  PeerFrame.blockRequest contentId=${'ab'.repeat(32)} piece=3 offset=16384 length=16384 (44 B)`,
  `03:04:05.025 net      TCP in  127.0.0.1:2000 -> 127.0.0.1:1000 peer 11111111  PeerFrame.block contentId=${'ab'.repeat(32)} piece=3 offset=16384 data=<16384 bytes, crc32 0badf00d> (16429 B)`,
  '03:04:05.030 store    actor peer.PeerConnection(1.7) -> peer.PieceStore(2.1)  StoreCommand.writePiece  (262200 B)',
];

function encodeTrace(records: p2p.v1.TraceRecord.$Properties[]): Buffer {
  return Buffer.concat(records.map((r) => p2p.v1.TraceRecord.encode(r, Writer.create().fork()).ldelim().finish()));
}

function inspect(file: string, ...flags: string[]) {
  const r = spawnSync(process.execPath, [P2P_BIN, 'inspect', file, ...flags], { encoding: 'utf8', env: { ...process.env, LANG: 'C' } });
  return { code: r.status, out: r.stdout.trim().split('\n').filter(Boolean), err: r.stderr };
}

describe('trace files and the inspector', function () {
  this.timeout(30_000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'enxame-trace-'));
  const known = path.join(dir, 'known.trace');
  const bytes = encodeTrace(KNOWN);
  before(() => fs.writeFileSync(known, bytes));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('shows a known trace as known lines', () => {
    const r = inspect(known);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(r.out, EXPECTED_LINES);
  });

  it('filters by type, peer and actor, and gives NDJSON', () => {
    assert.deepEqual(inspect(known, '--type', 'blockRequest').out, [EXPECTED_LINES[4]]);
    assert.deepEqual(inspect(known, '--type', 'TrackerPacket').out, [EXPECTED_LINES[3]]);
    assert.deepEqual(inspect(known, '--peer', '1111').out, [EXPECTED_LINES[4], EXPECTED_LINES[5]]);
    assert.deepEqual(inspect(known, '--actor', 'PieceStore').out, [EXPECTED_LINES[1], EXPECTED_LINES[6]]);
    const json = inspect(known, '--json', '--type', 'block').out.map((l) => JSON.parse(l));
    assert.equal(json.length, 1);
    assert.equal(json[0].type, 'PeerFrame.block');
    assert.equal(json[0].direction, 'in');
    assert.equal(json[0].actor, 'peer.PeerConnection(1.7)');
    assert.equal(json[0].message.piece, 3);
  });

  it('sums counts and bytes per type and per peer', () => {
    const r = inspect(known, '--stats');
    assert.equal(r.out[0], '7 records');
    assert.ok(r.out.some((l) => /PeerFrame\.block in\s+1 msgs\s+16429 bytes/.test(l)), r.out.join('\n'));
    assert.ok(r.out.some((l) => /127\.0\.0\.1:2000\s+2 msgs\s+16473 bytes/.test(l)), r.out.join('\n'));
  });

  it('reads a truncated trace up to its last whole record and says so', () => {
    const cut = path.join(dir, 'cut.trace');
    fs.writeFileSync(cut, bytes.subarray(0, bytes.length - 5));
    const r = inspect(cut);
    assert.equal(r.code, 0);
    assert.deepEqual(r.out, EXPECTED_LINES.slice(0, 6));
    assert.match(r.err, /ends in the middle of a record at byte \d+/);
  });

  it('stops at damage, shows what came before, and says where', () => {
    const damaged = path.join(dir, 'damaged.trace');
    const at = encodeTrace(KNOWN.slice(0, 3)).length;
    fs.writeFileSync(damaged, Buffer.concat([bytes.subarray(0, at), Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]), bytes.subarray(at)]));
    const r = inspect(damaged);
    assert.equal(r.code, 1);
    assert.deepEqual(r.out, EXPECTED_LINES.slice(0, 3));
    assert.match(r.err, new RegExp(`damaged at byte ${at} \\(after 3 whole records\\)`));
  });

  it('never throws on random or mutated bytes', () => {
    const names = new ActorNames();
    const readAll = (b: Uint8Array) => {
      const read = readTraceRecords(b);
      for (const r of read.records) {
        names.learn(r);
        const d = describeRecord(r);
        toLine(d, names);
        JSON.stringify(toJson(d, names));
        matches(d, { type: 'block', peer: '11', actor: 'x' }, names);
      }
      assert.ok(read.consumed <= b.length);
    };
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2000 }), (b) => readAll(b)), { numRuns: 300 });
    fc.assert(fc.property(fc.array(fc.tuple(fc.nat(bytes.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 12 }), (edits) => {
      const copy = Buffer.from(bytes);
      for (const [i, v] of edits) copy[i] = v;
      readAll(copy);
    }), { numRuns: 300 });
  });

  it('writes a record from a template exactly as the generic path does, batch after batch', () => {
    const wireEvent = fc.record({
      transport: fc.constantFrom<'udp' | 'tcp'>('udp', 'tcp'),
      direction: fc.constantFrom<'in' | 'out'>('in', 'out'),
      local: fc.string(), remote: fc.string(),
      messageType: fc.constantFrom<WireTrace['messageType']>('p2p.v1.TrackerPacket', 'p2p.v1.PeerFrame'),
      // Some large enough that a dozen fill a batch or more.
      message: fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ minLength: 8000, maxLength: 30_000 })),
      wireBytes: fc.nat(),
      elided: fc.option(fc.uint8Array({ maxLength: 40_000 }), { nil: undefined }),
      remotePeerId: fc.option(fc.uint8Array({ minLength: 1, maxLength: 20 }), { nil: undefined }),
      actor: fc.option(fc.string(), { nil: undefined }),
    });
    fc.assert(fc.property(fc.array(wireEvent, { minLength: 1, maxLength: 12 }), fc.string(), (events, host) => {
      const traceOf = (write: (t: Tracer, e: WireTrace) => void) => {
        const batches: Uint8Array[] = [];
        const tracer = new Tracer(host, (b) => batches.push(Uint8Array.from(b)));
        tracer.start(false);
        for (const e of events) write(tracer, e);
        batches.push(tracer.stop());
        return readTraceRecords(Buffer.concat(batches)).records.map((r) => ({ ...p2p.v1.TraceRecord.toObject(r), timeMs: 0 }));
      };
      const generic = traceOf((t, e) => t.wire(e));
      const templated = traceOf((t, e) => t.wireFrom(wireTemplate(e), e.message, e.wireBytes, e.elided));
      assert.equal(templated.length, events.length);
      assert.deepEqual(templated, generic);
    }), { numRuns: 200 });
  });
});
