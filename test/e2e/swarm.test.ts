// The whole seed flow with the real binaries on 127.0.0.1: a tracker, peers
// that share folders, and leechers that `!baixar` until their files are
// byte-identical to the originals.
import { strict as assert } from 'node:assert';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { killAll, makeDirs, removeScratch, startP2p, startPeer, startTracker } from '../helpers/processes';
import { FakePeer } from '../helpers/fake-peer';

const sha256 = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');


describe('swarm end to end (spawned bin/p2p.js)', function () {
  this.timeout(120_000);
  afterEach(killAll);
  after(removeScratch);

  it('two leechers download two text files, an empty file and an 8 MiB file, byte-identical', async () => {
    const dirs = makeDirs('seed', 'l1', 'l2');
    fs.writeFileSync(path.join(dirs.seed!, 'empty.txt'), '');
    fs.writeFileSync(path.join(dirs.seed!, 'a.txt'), 'conteúdo de a.txt\n');
    fs.writeFileSync(path.join(dirs.seed!, 'b.txt'), 'b.txt tem outro conteúdo\n'.repeat(100));
    fs.writeFileSync(path.join(dirs.seed!, 'big.bin'), randomBytes(8 * 1024 * 1024));
    const tracker = await startTracker();
    const seed = await startPeer('seed', tracker.address, dirs.seed!);
    await tracker.proc.waitFor(/joined \(127\.0\.0\.1:\d+, 4 file/);
    const l1 = await startPeer('l1', tracker.address, dirs.l1!);
    const l2 = await startPeer('l2', tracker.address, dirs.l2!);
    l1.send('!baixar');
    l2.send('!baixar');
    await l1.waitFor(/4 of 4 download\(s\) finished/, 90_000);
    await l2.waitFor(/4 of 4 download\(s\) finished/, 90_000);
    for (const dir of [dirs.l1!, dirs.l2!]) {
      for (const name of ['a.txt', 'b.txt', 'empty.txt', 'big.bin']) {
        assert.equal(sha256(path.join(dir, name)), sha256(path.join(dirs.seed!, name)), `${name} in ${dir}`);
      }
      assert.deepEqual(fs.readdirSync(dir).filter((n) => n.includes('.part')), [], 'no partial files left');
    }
    l1.send('!meus_pedacos');
    await l1.waitFor(/big\.bin: 32\/32 pieces \(complete\)/);
    for (const p of [l1, l2, seed]) p.send('!sair');
    assert.deepEqual(await Promise.all([l1.exited, l2.exited, seed.exited]), [0, 0, 0]);
  });

  it('sends Have frames to a peer that lacks pieces, none to one the tracker lists as holding the whole file', async () => {
    const data = randomBytes(16 * 64 * 1024);
    const whole = new FakePeer([{ name: 'h.bin', data, pieceSize: 64 * 1024 }]);
    const partial = new FakePeer([{ name: 'h.bin', data, pieceSize: 64 * 1024 }], () => false, true);
    const dirs = makeDirs('leech');
    const tracker = await startTracker();
    try {
      await whole.start(tracker.port);
      await partial.start(tracker.port);
      const leech = await startPeer('leech', tracker.address, dirs.leech!);
      leech.send('!baixar h.bin');
      await leech.waitFor(/h\.bin complete in/, 60_000);
      assert.ok(Buffer.compare(fs.readFileSync(path.join(dirs.leech!, 'h.bin')), data) === 0, 'byte-identical');
      await new Promise((r) => setTimeout(r, 300)); // the last Have frames on their way
      assert.equal(whole.connections, 1);
      assert.equal(partial.connections, 1);
      assert.deepEqual(whole.havesReceived, [], 'no Have frame to the holder of every piece');
      // The partial holder hears of every piece the leecher got, the one it lacks included.
      assert.deepEqual([...new Set(partial.havesReceived)].sort((a, b) => a - b), [...Array(16).keys()]);
      leech.send('!sair');
      assert.equal(await leech.exited, 0);
    } finally {
      await Promise.all([whole.stop(), partial.stop()]);
    }
  });

  it('finishes a download from the other holder when one is killed mid-transfer', async () => {
    const dirs = makeDirs('s1', 's2', 'leech');
    const data = randomBytes(8 * 1024 * 1024);
    fs.writeFileSync(path.join(dirs.s1!, 'shared.bin'), data);
    fs.writeFileSync(path.join(dirs.s2!, 'shared.bin'), data);
    const tracker = await startTracker();
    // Capped uploads so the transfer lasts long enough to interrupt it.
    const s1 = await startPeer('s1', tracker.address, dirs.s1!, ['--max-up', '1MiB/s']);
    const s2 = await startPeer('s2', tracker.address, dirs.s2!, ['--max-up', '1MiB/s']);
    await tracker.proc.waitFor(/joined .*1 file/);
    await new Promise((r) => setTimeout(r, 200));
    const leech = await startPeer('leech', tracker.address, dirs.leech!);
    leech.send('!baixar shared.bin');
    await leech.waitFor(/shared\.bin: \[#*\.*\]\s+\d+% ([1-9]|[12]\d)\/32 /, 60_000);
    s1.kill('SIGKILL');
    await s1.exited;
    await leech.waitFor(/shared\.bin complete in/, 90_000);
    assert.ok(Buffer.compare(fs.readFileSync(path.join(dirs.leech!, 'shared.bin')), data) === 0, 'byte-identical');
    for (const p of [leech, s2]) p.send('!sair');
    assert.deepEqual(await Promise.all([leech.exited, s2.exited]), [0, 0]);
  });

  it('!sair removes the peer from the tracker before the next interval ends', async () => {
    const dirs = makeDirs('p');
    fs.writeFileSync(path.join(dirs.p!, 'x.txt'), 'x');
    const tracker = await startTracker();
    const peer = await startPeer('p', tracker.address, dirs.p!);
    const joined = await tracker.proc.waitFor(/peer [0-9a-f]+ joined/);
    const id = /peer ([0-9a-f]+) joined/.exec(joined)![1]!;
    const sentAt = Date.now();
    peer.send('!sair');
    await tracker.proc.waitFor(new RegExp(`peer ${id} left \\(said goodbye\\)`), 3000);
    assert.ok(Date.now() - sentAt < 3000, 'gone within one announce interval');
    assert.equal(await peer.exited, 0);
  });

  it('asks for the tracker and its own IP at prompts answered through a pipe', async () => {
    const dirs = makeDirs('p');
    fs.writeFileSync(path.join(dirs.p!, 'a.txt'), 'prompt test\n');
    const tracker = await startTracker();
    const peer = startP2p('prompted', ['peer', '--dir', dirs.p!]);
    peer.child.stdin!.write(`127.0.0.1\n${tracker.port}\n127.0.0.1\n`);
    await peer.waitFor(/Tracker IP:/);
    await peer.waitFor(/Your own IP/);
    await tracker.proc.waitFor(/joined \(127\.0\.0\.1:\d+, 1 file/);
    peer.child.stdin!.end('!meus_pedacos\n');
    await peer.waitFor(/a\.txt: 1\/1 pieces \(complete\)/);
    // End of input means !sair.
    await peer.waitFor(/bye/);
    assert.equal(await peer.exited, 0);
    await tracker.proc.waitFor(/left \(said goodbye\)/, 3000);
  });

  it('speaks Portuguese when LANG starts with pt', async () => {
    const dirs = makeDirs('p');
    const tracker = await startTracker();
    const peer = startP2p('pt', ['peer', '--dir', dirs.p!], { LANG: 'pt_BR.UTF-8' });
    peer.child.stdin!.end(`127.0.0.1\n${tracker.port}\n127.0.0.1\n!ajuda\n`);
    await peer.waitFor(/Digite o IP do Servidor \(Tracker\)/);
    await peer.waitFor(/!meus_pedacos\s+lista/);
    assert.equal(await peer.exited, 0);
  });
});
