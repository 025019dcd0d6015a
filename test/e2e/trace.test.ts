// Tracing end to end: --trace on the real binaries records the seed's whole
// flow in order, the wire bytes are standard protobuf that Debian's protoc
// decodes with proto/, !trace turns tracing on and off in a running peer, and
// --trace - prints NDJSON.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { killAll, makeDirs, removeScratch, startP2p, startPeer, startTracker } from '../helpers/processes';
import { readTraceRecords } from '../../src/trace/trace-file';
import { describe as describeRecord } from '../../src/trace/describe';
import { p2p } from '../../src/gen/proto';

const { PeerFrame } = p2p.v1;

const PROTO = path.join(__dirname, '..', '..', '..', 'proto');

function wireLabels(file: string): { label: string; out: boolean; record: p2p.v1.TraceRecord }[] {
  const read = readTraceRecords(fs.readFileSync(file));
  assert.equal(read.damage, undefined);
  return read.records
    .filter((r) => r.wire)
    .sort((a, b) => (a.timeMs ?? 0) - (b.timeMs ?? 0))
    .map((r) => ({ label: describeRecord(r).label, out: r.wire!.direction === 2, record: r }));
}

function protocDecode(type: string, protoFile: string, bytes: Uint8Array): string {
  try {
    return execFileSync('protoc', [`--decode=${type}`, '-I', PROTO, path.join(PROTO, protoFile)], { input: bytes }).toString();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('protoc is not installed (apt-get install -y protobuf-compiler)');
    throw err;
  }
}

describe('tracing (spawned bin/p2p.js)', function () {
  this.timeout(120_000);
  afterEach(killAll);
  after(removeScratch);

  it('records the whole seed flow in order, and protoc decodes the captured wire messages', async () => {
    const dirs = makeDirs('seed', 'leech', 'full', 'out');
    const file = randomBytes(600_000);
    fs.writeFileSync(path.join(dirs.seed!, 'f.bin'), file);
    const trackerTrace = path.join(dirs.out!, 'tracker.trace');
    const leechTrace = path.join(dirs.out!, 'leech.trace');
    const tracker = await startTracker(['--trace', trackerTrace]);
    await startPeer('seed', tracker.address, dirs.seed!);
    await tracker.proc.waitFor(/joined/);
    const leech = await startPeer('leech', tracker.address, dirs.leech!, ['--trace', leechTrace]);
    leech.send('!baixar f.bin');
    await leech.waitFor(/f\.bin complete/);
    leech.send('!sair');
    assert.equal(await leech.exited, 0);

    const labels = wireLabels(leechTrace);
    const firstOut = (l: string) => labels.findIndex((x) => x.out && x.label === l);
    const firstIn = (l: string) => labels.findIndex((x) => !x.out && x.label === l);
    const steps = [
      firstOut('TrackerPacket.connectRequest'), firstIn('TrackerPacket.connectResponse'),
      Math.min(firstOut('TrackerPacket.announceRequest'), firstOut('TrackerPacket.swarmQuery')), firstIn('TrackerPacket.swarmMap'),
      firstOut('PeerFrame.hello'), firstOut('PeerFrame.manifestRequest'), firstIn('PeerFrame.manifestResponse'),
      firstOut('PeerFrame.blockRequest'), firstIn('PeerFrame.block'), firstOut('TrackerPacket.leaveRequest'),
    ];
    for (const s of steps) assert.ok(s >= 0, `a step is missing: ${JSON.stringify(steps)}\n${labels.map((l) => l.label).join('\n')}`);
    for (let i = 1; i < steps.length; i++) assert.ok(steps[i - 1]! < steps[i]!, `steps out of order: ${JSON.stringify(steps)}`);
    const manifest = PeerFrame.decode(labels.find((l) => l.label === 'PeerFrame.manifestResponse')!.record.wire!.message!).manifestResponse!.manifest!;
    const seedBlockData = (l: (typeof labels)[number]) => {
      const b = PeerFrame.decode(l.record.wire!.message!).block!;
      const start = (b.piece ?? 0) * manifest.pieceSize! + (b.offset ?? 0);
      return file.subarray(start, start + l.record.wire!.payloadBytes!);
    };
    const blocks = labels.filter((l) => l.label === 'PeerFrame.block');
    assert.equal(blocks.length, Math.ceil(600_000 / 16384));
    assert.ok(labels.findIndex((l) => l.label === 'TrackerPacket.leaveRequest') > labels.lastIndexOf(blocks[blocks.length - 1]!));
    for (const b of blocks) {
      assert.ok(b.record.wire!.payloadBytes! > 0, 'block data is recorded as its length...');
      assert.equal(b.record.wire!.payloadCrc32, crc32(seedBlockData(b)), '...and its CRC-32');
      assert.ok(b.record.wire!.message!.length < 100, 'not the bytes themselves');
    }
    // With --trace-payloads, a second leecher's trace holds the block data itself.
    const fullTrace = path.join(dirs.out!, 'full.trace');
    const full = await startPeer('full', tracker.address, dirs.full!, ['--trace', fullTrace, '--trace-payloads']);
    full.send('!baixar f.bin');
    await full.waitFor(/f\.bin complete/);
    full.send('!sair');
    assert.equal(await full.exited, 0);
    const fullBlocks = wireLabels(fullTrace).filter((l) => l.label === 'PeerFrame.block');
    assert.ok(fullBlocks.length > 0);
    let dataBytes = 0;
    for (const b of fullBlocks) {
      assert.ok(!b.record.wire!.payloadBytes);
      dataBytes += PeerFrame.decode(b.record.wire!.message!).block!.data!.length;
    }
    assert.equal(dataBytes, 600_000, 'every byte of the file is in the trace');

    const actors = readTraceRecords(fs.readFileSync(leechTrace)).records.filter((r) => r.actor);
    assert.ok(actors.some((r) => r.actor!.type === 'p2p.v1.StoreCommand' && r.actor!.bodyCase === 'writePiece'));

    const seen = wireLabels(trackerTrace).map((l) => `${l.out ? 'out' : 'in'} ${l.label}`);
    for (const want of ['in TrackerPacket.connectRequest', 'out TrackerPacket.connectResponse', 'in TrackerPacket.announceRequest',
      'in TrackerPacket.swarmQuery', 'out TrackerPacket.swarmMap', 'in TrackerPacket.leaveRequest']) {
      assert.ok(seen.includes(want), `tracker trace lacks ${want}`);
    }

    // The captured bytes are plain protobuf: protoc decodes them with proto/.
    const announce = labels.find((l) => l.label === 'TrackerPacket.announceRequest')!.record.wire!.message!;
    const text = protocDecode('p2p.v1.TrackerPacket', 'p2p/v1/tracker.proto', announce);
    assert.match(text, /announce_request \{/);
    assert.match(text, /connection_token: /);
    const request = labels.find((l) => l.label === 'PeerFrame.blockRequest')!.record.wire!.message!;
    const frame = protocDecode('p2p.v1.PeerFrame', 'p2p/v1/peer.proto', request);
    assert.match(frame, /block_request \{[\s\S]*length: 16384/);
  });

  it('!trace on and !trace off record a running peer; --trace - prints NDJSON', async () => {
    const dirs = makeDirs('peer', 'out');
    fs.writeFileSync(path.join(dirs.peer!, 'a.txt'), 'a\n');
    const tracker = startP2p('tracker', ['tracker', '--host', '127.0.0.1', '--port', '0', '--trace', '-']);
    const line = await tracker.waitFor((l) => !l.startsWith('{') && /udp:\/\/127\.0\.0\.1:\d+/.test(l));
    const address = /udp:\/\/(127\.0\.0\.1:\d+)/.exec(line)![1]!;
    const peer = await startPeer('peer', address, dirs.peer!);
    const file = path.join(dirs.out!, 'live.trace');
    peer.send(`!trace on ${file}`);
    await peer.waitFor(/tracing every message into/);
    peer.send('!pieces');
    await peer.waitFor(/traffic: /);
    peer.send('!trace off');
    await peer.waitFor(/tracing stopped/);
    const records = readTraceRecords(fs.readFileSync(file)).records;
    assert.ok(records[0]!.started, 'a trace starts with who is tracing');
    assert.ok(records.some((r) => r.actor?.bodyCase === 'listHoldings'));
    assert.ok(records.some((r) => r.spawned?.behavior === 'peer.PieceStore'));
    // p2p inspect --follow shows records as they are appended.
    const live = path.join(dirs.out!, 'live-follow.trace');
    peer.send(`!trace on ${live}`);
    await peer.waitFor(new RegExp(`tracing every message into ${live.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    const follow = startP2p('inspect', ['inspect', live, '--follow', '--type', 'listHoldings']);
    await new Promise((r) => setTimeout(r, 600));
    peer.send('!pieces');
    await follow.waitFor(/StoreCommand\.listHoldings/);
    follow.kill('SIGINT');
    assert.equal(await follow.exited, 0);
    peer.send('!trace off');

    const ndjson = await tracker.waitFor((l) => l.startsWith('{') && l.includes('"TrackerPacket.announceRequest"'));
    const event = JSON.parse(ndjson);
    assert.equal(event.kind, 'wire');
    assert.equal(event.transport, 'udp');
    assert.equal(typeof event.message.peerId, 'string');
  });
});
