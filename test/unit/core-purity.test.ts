// src/core is pure: no sockets, files, threads, timers, clock or Math.random,
// so the same logic runs in a peer, in a test and in a simulation.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';

describe('src/core purity', () => {
  const dir = path.join(__dirname, '..', '..', '..', 'src', 'core');
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.ts'));

  it('has modules to check', () => assert.ok(files.length >= 8));

  for (const file of files) {
    it(`${file} uses no I/O, threads, timers, clock or Math.random`, () => {
      const code = fs.readFileSync(path.join(dir, file), 'utf8');
      for (const mod of ['net', 'dgram', 'fs', 'fs/promises', 'worker_threads', 'child_process', 'timers', 'http', 'os']) {
        assert.ok(!new RegExp(`from ['"](node:)?${mod}['"]`).test(code), `${file} imports ${mod}`);
        assert.ok(!new RegExp(`require\\(['"](node:)?${mod}['"]\\)`).test(code), `${file} requires ${mod}`);
      }
      for (const banned of ['Math.random', 'Date.now', 'setTimeout', 'setInterval', 'setImmediate', 'performance.now']) {
        assert.ok(!code.includes(banned), `${file} uses ${banned}`);
      }
    });
  }
});
