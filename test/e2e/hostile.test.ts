// Hostile peers, with the real binaries: a peer that serves corrupt data is
// caught by the piece hashes and banned, and the file still ends up
// byte-identical; file names from the network that would leave the download
// folder are refused with a clear message and touch nothing; a greedy asker
// gets about two seconds of a limited seed's upload and `busy` for the rest.
import { strict as assert } from 'node:assert';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import fc from 'fast-check';
import { p2p } from '../../src/gen/proto';
import { FrameDecoder, delimit } from '../../src/core/frame-codec';
import { contentId, type ManifestData } from '../../src/core/manifest';
import { killAll, makeDirs, removeScratch, startPeer, startTracker } from '../helpers/processes';
import { FakePeer } from '../helpers/fake-peer';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('hostile peers (spawned bin/p2p.js and a raw-socket peer)', function () {
  this.timeout(120_000);
  const fakes: FakePeer[] = [];
  afterEach(async () => {
    await Promise.all(fakes.splice(0).map((f) => f.stop()));
    await killAll();
  });
  after(removeScratch);

  it('bans a peer whose pieces fail their hash, takes them from another holder, ends byte-identical', async () => {
    const dirs = makeDirs('seed', 'leech');
    const data = randomBytes(4 * 1024 * 1024);
    fs.writeFileSync(path.join(dirs.seed!, 'big.bin'), data);
    const tracker = await startTracker();
    await startPeer('seed', tracker.address, dirs.seed!, ['--piece-size', '64KiB']);
    await tracker.proc.waitFor(/joined/);
    const liar = new FakePeer([{ name: 'big.bin', data, pieceSize: 64 * 1024 }], () => true);
    fakes.push(liar);
    await liar.start(tracker.port);
    const leech = await startPeer('leech', tracker.address, dirs.leech!);
    leech.send('!baixar big.bin');
    const banned = await leech.waitFor(/banned 127\.0\.0\.1:\d+ for this download: 3 pieces failed their hash/);
    assert.match(banned, new RegExp(`:${liar.port} `));
    const servedAtBan = liar.blocksServed;
    await leech.waitFor(/big\.bin complete/);
    assert.equal(sha256(fs.readFileSync(path.join(dirs.leech!, 'big.bin'))), sha256(data));
    // After the ban, nothing more was asked of it (blocks already requested may still have been in flight).
    const connectionsAtEnd = liar.connections;
    assert.ok(liar.blocksServed - servedAtBan <= 128, `${liar.blocksServed - servedAtBan} blocks after the ban`);
    assert.equal(connectionsAtEnd, 1, 'the leecher did not connect to the banned peer again');
    assert.ok(leech.lines.some((l) => /failed its hash; fetching it again/.test(l)));
  });

  it('refuses file names that would leave the download folder, and touches nothing outside it', async () => {
    const dirs = makeDirs('leech', 'seed');
    fs.writeFileSync(path.join(dirs.seed!, 'fine.txt'), 'fine\n');
    const tracker = await startTracker();
    await startPeer('seed', tracker.address, dirs.seed!);
    await tracker.proc.waitFor(/joined/);
    const names = ['../evil.txt', '/tmp/abs-evil.txt', 'nul', 'a\u0001b', 'x'.repeat(240) + '/y', 'CON.txt', 'trailing.'];
    const evil = new FakePeer(names.map((name) => ({ name, data: Buffer.from(`evil ${name}\n`), pieceSize: 16 * 1024 })));
    fakes.push(evil);
    await evil.start(tracker.port);
    const leech = await startPeer('leech', tracker.address, dirs.leech!);
    leech.send('!baixar');
    await leech.waitFor(/\d+ of 8 download\(s\) finished/);
    const refusals = leech.lines.filter((l) => /failed: refusing file name/.test(l));
    assert.equal(refusals.length, names.length, leech.lines.join('\n'));
    assert.deepEqual(fs.readdirSync(dirs.leech!).filter((f) => !f.endsWith('.state')), ['fine.txt']);
    const parent = path.dirname(dirs.leech!);
    assert.deepEqual(fs.readdirSync(parent).sort(), ['leech', 'seed']);
    assert.ok(!fs.existsSync('/tmp/abs-evil.txt'));
    leech.send('!sair');
    assert.equal(await leech.exited, 0);
  });

  it('survives random and mutated frame streams on its TCP port, split anywhere, and serves on', async () => {
    const dirs = makeDirs('seed', 'leech');
    const data = randomBytes(1024 * 1024);
    fs.writeFileSync(path.join(dirs.seed!, 'f.bin'), data);
    const tracker = await startTracker();
    const seed = await startPeer('seed', tracker.address, dirs.seed!);
    const port = Number(/tcp:\/\/127\.0\.0\.1:(\d+)/.exec(seed.lines.find((l) => /listening on tcp/.test(l))!)![1]);
    const hello = delimit(p2p.v1.PeerFrame.encode({ hello: { protocolVersion: 1, peerId: randomBytes(16) } }).finish());
    const request = delimit(p2p.v1.PeerFrame.encode({ blockRequest: { contentId: randomBytes(32), piece: 0, offset: 0, length: 16384 } }).finish());
    const streams = fc.sample(fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 3000 }),
      fc.array(fc.tuple(fc.nat(hello.length + request.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }).map((edits) => {
        const b = Buffer.concat([hello, request]);
        for (const [i, v] of edits) b[i] = v;
        return b;
      }),
      fc.constant(Buffer.concat([hello, Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f])])), // a 4 GiB frame announced
    ), 60);
    for (const bytes of streams) {
      const cuts = [...new Set([0, bytes.length, ...fc.sample(fc.nat(bytes.length), 3)])].sort((a, b) => a - b);
      await new Promise<void>((resolve) => {
        const socket = net.connect(port, '127.0.0.1', async () => {
          for (let i = 1; i < cuts.length; i++) {
            socket.write(bytes.subarray(cuts[i - 1], cuts[i]));
            await new Promise((r) => setImmediate(r));
          }
          setTimeout(() => socket.destroy(), 20);
        });
        socket.on('error', () => undefined);
        socket.on('close', () => resolve());
        socket.on('data', () => undefined);
      });
    }
    assert.ok(seed.running, 'the peer is still running');
    const leech = await startPeer('leech', tracker.address, dirs.leech!);
    leech.send('!baixar f.bin');
    await leech.waitFor(/f\.bin complete/);
    assert.equal(sha256(fs.readFileSync(path.join(dirs.leech!, 'f.bin'))), sha256(data));
  });

  it('a seed with an upload limit keeps about two seconds queued and answers busy for whole pieces past it', async () => {
    const dirs = makeDirs('seed');
    const pieceSize = 256 * 1024;
    const data = randomBytes(16 * pieceSize);
    fs.writeFileSync(path.join(dirs.seed!, 'f.bin'), data);
    const tracker = await startTracker();
    const seed = await startPeer('seed', tracker.address, dirs.seed!, ['--max-up', '256KiB/s', '--piece-size', '256KiB']);
    await tracker.proc.waitFor(/joined \(127\.0\.0\.1:\d+, 1 file/);
    const port = Number(/tcp:\/\/127\.0\.0\.1:(\d+)/.exec(seed.lines.find((l) => /listening on tcp/.test(l))!)![1]);
    const hashes: Uint8Array[] = [];
    for (let at = 0; at < data.length; at += pieceSize) hashes.push(createHash('sha256').update(data.subarray(at, at + pieceSize)).digest());
    const manifest: ManifestData = { name: 'f.bin', size: data.length, pieceSize, pieceHashes: hashes };
    const id = contentId(manifest);
    // Every block of 8 pieces asked at once: 2 MiB, eight seconds of this seed's upload.
    const frames = [delimit(p2p.v1.PeerFrame.encode({ hello: { protocolVersion: 1, peerId: randomBytes(16) } }).finish())];
    for (let piece = 0; piece < 8; piece++) {
      for (let offset = 0; offset < pieceSize; offset += 16384) {
        frames.push(delimit(p2p.v1.PeerFrame.encode({ blockRequest: { contentId: id, piece, offset, length: 16384 } }).finish()));
      }
    }
    const served = new Map<number, number>();
    const refused = new Map<number, string>();
    await new Promise<void>((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => socket.write(Buffer.concat(frames)));
      const decoder = new FrameDecoder(4 * 1024 * 1024);
      const timer = setTimeout(() => { socket.destroy(); reject(new Error(`served ${[...served]} refused ${[...refused.keys()]}`)); }, 30_000);
      socket.on('data', (chunk) => {
        for (const bytes of decoder.push(chunk)) {
          const f = p2p.v1.PeerFrame.decode(bytes);
          if (f.block) served.set(f.block.piece ?? 0, (served.get(f.block.piece ?? 0) ?? 0) + 1);
          if (f.blockRejected) refused.set(f.blockRejected.piece ?? 0, f.blockRejected.reason ?? '');
        }
        const whole = [...served.values()].filter((n) => n === 16).length;
        if (whole >= 2 && whole + new Set(refused.keys()).size >= 8) { clearTimeout(timer); socket.destroy(); resolve(); }
      });
      socket.on('error', () => undefined);
    });
    assert.ok(refused.size > 0, 'some pieces are refused');
    for (const [piece, reason] of refused) {
      assert.match(reason, /^busy: my upload is full/);
      assert.equal(served.get(piece) ?? 0, 0, `piece ${piece} is refused whole, not in part`);
    }
    for (const [piece, n] of served) assert.equal(n, 16, `piece ${piece} is served whole`);
    assert.ok(served.size >= 2, 'two seconds of upload are served');
  });
});
