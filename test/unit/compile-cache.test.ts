// The code cache, in real Node.js processes loading real files: a module runs
// the same from the cache as compiled anew, a second start takes it from the
// cache, a changed file or a damaged cache is compiled again, files outside
// the folder and NODE_DISABLE_COMPILE_CACHE are left alone.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import Module from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';

const COMPILE_CACHE = path.join(__dirname, '../../src/runtime/compile-cache.js');

interface Outcome {
  seen: unknown;
  stats: { fromCache: number; compiled: number; rejected: number };
}

describe('compile cache (real processes, real files)', function () {
  this.timeout(30_000);
  let work: string;
  let root: string;
  let cacheDir: string;
  let outside: string;

  before(function () {
    // Node.js 22.1+ caches by itself; this file tests the loader wrapper used on Node.js 20.
    if (typeof (Module as unknown as { enableCompileCache?: unknown }).enableCompileCache === 'function') this.skip();
  });

  beforeEach(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'enxame-cc-'));
    root = path.join(work, 'project');
    cacheDir = path.join(work, 'cache');
    outside = path.join(work, 'elsewhere');
    fs.mkdirSync(path.join(root, 'lib'), { recursive: true });
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(root, 'lib', 'dep.js'), 'exports.word = () => "first";\n');
    fs.writeFileSync(path.join(outside, 'other.js'), 'module.exports = 42;\n');
    // Everything a module may ask of the loader: require, resolve, its names, `this`.
    fs.writeFileSync(path.join(root, 'mod.js'), [
      '#!/usr/bin/env node',
      'const dep = require("./lib/dep");',
      `const other = require(${JSON.stringify(path.join(outside, 'other.js'))});`,
      'module.exports = () => ({',
      '  word: dep.word(), other,',
      '  file: __filename, dir: __dirname,',
      '  resolved: require.resolve("./lib/dep"),',
      '  cached: Object.keys(require.cache).some((k) => k.endsWith("dep.js")),',
      '  thisIsExports: this === module.exports || this === exports,',
      '  lines: new Error("here").stack.split("\\n")[1].includes("mod.js:10"),',
      '});',
      '',
    ].join('\n'));
  });
  afterEach(() => fs.rmSync(work, { recursive: true, force: true }));

  function run(env: NodeJS.ProcessEnv = {}): Outcome {
    const script = `
      const cc = require(${JSON.stringify(COMPILE_CACHE)});
      cc.enableCompileCache('test', { root: ${JSON.stringify(root)}, dir: ${JSON.stringify(cacheDir)}, writeAfterMs: 20 });
      const seen = require(${JSON.stringify(path.join(root, 'mod.js'))})();
      setTimeout(() => console.log(JSON.stringify({ seen, stats: cc.compileCacheStats })), 200);`;
    const environment = { ...process.env, ...env };
    if (!('NODE_DISABLE_COMPILE_CACHE' in env)) delete environment.NODE_DISABLE_COMPILE_CACHE;
    const r = spawnSync(process.execPath, ['-e', script], { env: environment, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as Outcome;
  }

  const expected = () => ({
    word: 'first', other: 42, file: path.join(root, 'mod.js'), dir: root, resolved: path.join(root, 'lib', 'dep.js'),
    cached: true, thisIsExports: true, lines: true,
  });

  it('compiles on the first start, takes both files from the cache on the next, with the same result', () => {
    const first = run();
    assert.deepEqual(first.seen, expected());
    assert.deepEqual(first.stats, { fromCache: 0, compiled: 2, rejected: 0 }); // other.js is outside the folder
    assert.equal(fs.readdirSync(cacheDir).filter((f) => f.endsWith('.bin')).length, 2);
    const second = run();
    assert.deepEqual(second.seen, expected());
    assert.deepEqual(second.stats, { fromCache: 2, compiled: 0, rejected: 0 });
  });

  it('compiles a changed file again, and caches the new one', () => {
    run();
    fs.writeFileSync(path.join(root, 'lib', 'dep.js'), 'exports.word = () => "second, longer";\n');
    const changed = run();
    assert.deepEqual(changed.seen, { ...expected(), word: 'second, longer' });
    assert.deepEqual(changed.stats, { fromCache: 1, compiled: 1, rejected: 0 });
    assert.deepEqual(run().stats, { fromCache: 2, compiled: 0, rejected: 0 });
  });

  it('never runs old code for a file changed to the same length (V8 itself checks only the length)', () => {
    run();
    const dep = path.join(root, 'lib', 'dep.js');
    fs.writeFileSync(dep, 'exports.word = () => "FIRST";\n');
    const later = new Date(Date.now() + 5000);
    fs.utimesSync(dep, later, later);
    const changed = run();
    assert.equal((changed.seen as { word: string }).word, 'FIRST');
    assert.deepEqual(changed.stats, { fromCache: 1, compiled: 1, rejected: 0 });
  });

  it('compiles anew when a cache file is damaged, and mends it', () => {
    run();
    for (const f of fs.readdirSync(cacheDir)) {
      const file = path.join(cacheDir, f);
      const bytes = fs.readFileSync(file);
      const body = bytes.indexOf(10) + 1;
      fs.writeFileSync(file, Buffer.concat([bytes.subarray(0, body), Buffer.alloc(bytes.length - body, 0xab)]));
    }
    const damaged = run();
    assert.deepEqual(damaged.seen, expected());
    assert.deepEqual(damaged.stats, { fromCache: 0, compiled: 2, rejected: 2 });
    assert.deepEqual(run().stats, { fromCache: 2, compiled: 0, rejected: 0 });
  });

  it('does nothing with NODE_DISABLE_COMPILE_CACHE', () => {
    const off = run({ NODE_DISABLE_COMPILE_CACHE: '1' });
    assert.deepEqual(off.seen, expected());
    assert.deepEqual(off.stats, { fromCache: 0, compiled: 0, rejected: 0 });
    assert.equal(fs.existsSync(cacheDir), false);
  });

  it('runs as before when the cache folder cannot be made', () => {
    fs.writeFileSync(cacheDir, 'a file where the folder would go');
    const outcome = run();
    assert.deepEqual(outcome.seen, expected());
    assert.deepEqual(run().stats, { fromCache: 0, compiled: 2, rejected: 0 });
  });
});
