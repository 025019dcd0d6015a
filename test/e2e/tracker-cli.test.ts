// `p2p tracker` as users run it: flags or prompts, a real socket, Ctrl+C.
import { strict as assert } from 'node:assert';
import { killAll, makeDirs, removeScratch, startP2p, startTracker } from '../helpers/processes';
import { RawTrackerClient } from '../helpers/tracker-client';

describe('p2p tracker (spawned bin/p2p.js)', function () {
  this.timeout(30_000);
  afterEach(killAll);
  after(removeScratch);

  async function answersAndStops(proc: ReturnType<typeof startP2p>): Promise<void> {
    const line = await proc.waitFor(/udp:\/\/127\.0\.0\.1:\d+/);
    const port = Number(/:(\d+)/.exec(line.split('udp://')[1]!)![1]);
    const client = new RawTrackerClient('127.0.0.1', port);
    try {
      assert.equal((await client.token()).length, 16);
    } finally {
      client.close();
    }
    proc.kill('SIGTERM');
    const code = await proc.exited;
    assert.equal(code, 0, `exit ${code ?? proc.child.signalCode}; last lines:\n${proc.tail()}`);
  }

  it('listens where the flags say and stops cleanly on SIGTERM', async () => {
    await answersAndStops(startP2p('tracker', ['tracker', '--host', '127.0.0.1', '--port', '0']));
  });

  it('asks for the IP and port at prompts answered through a pipe, and keeps running after end of input', async () => {
    const proc = startP2p('tracker', ['tracker']);
    proc.child.stdin!.end('127.0.0.1\n0\n');
    await proc.waitFor(/Tracker IP:/);
    await proc.waitFor(/Tracker port/);
    await answersAndStops(proc);
  });

  it('stops cleanly on a SIGTERM sent the moment it says it listens (its handler comes first)', async () => {
    // The handler used to be set just after that line, and a quick enough signal killed it.
    for (let i = 0; i < 5; i++) {
      const proc = startP2p('tracker', ['tracker', '--host', '127.0.0.1', '--port', '0']);
      await proc.waitFor(/udp:\/\/127\.0\.0\.1:\d+/);
      proc.kill('SIGTERM');
      const code = await proc.exited;
      assert.equal(code, 0, `run ${i}: exit ${code ?? proc.child.signalCode}; last lines:\n${proc.tail()}`);
    }
  });

  it('a peer, too, leaves cleanly on a SIGTERM sent the moment it says it listens', async () => {
    const dirs = makeDirs('p');
    const { address } = await startTracker();
    for (let i = 0; i < 5; i++) {
      const proc = startP2p('peer', ['peer', '--tracker', address, '--ip', '127.0.0.1', '--dir', dirs.p!]);
      await proc.waitFor(/listening on tcp:\/\//);
      proc.kill('SIGTERM');
      const code = await proc.exited;
      assert.equal(code, 0, `run ${i}: exit ${code ?? proc.child.signalCode}; last lines:\n${proc.tail()}`);
    }
  });

  it('says why it cannot start, and exits 2', async () => {
    const proc = startP2p('tracker', ['tracker', '--host', '127.0.0.1', '--port', 'seventy']);
    await proc.waitFor(/not a port number/);
    assert.equal(await proc.exited, 2);
    const ended = startP2p('tracker', ['tracker']);
    ended.child.stdin!.end('127.0.0.1\n');
    await ended.waitFor(/input ended/);
    assert.equal(await ended.exited, 2);
  });

  it('a peer given a bad option says why and exits 2: the worker thread it started early does not hold it', async () => {
    const proc = startP2p('peer', ['peer', '--tracker', '127.0.0.1:9', '--ip', '127.0.0.1', '--max-up', 'fast']);
    await proc.waitFor(/--max-up: "fast" is not a rate/);
    assert.equal(await proc.exited, 2);
  });
});
