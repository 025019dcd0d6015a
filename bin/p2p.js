#!/usr/bin/env node
// The `p2p` command: p2p tracker | peer | demo. Runs the compiled TypeScript.
'use strict';
const path = require('node:path');
const fs = require('node:fs');
const entry = path.join(__dirname, '..', 'dist', 'src', 'cli', 'main.js');
if (!fs.existsSync(entry)) {
  process.stderr.write('p2p: the project is not built yet; run `npm ci` (or `npm run build`) in ' +
    path.join(__dirname, '..') + '\n');
  process.exit(2);
}
// Compiled code of earlier starts is used again (see compile-cache.ts).
require(path.join(__dirname, '..', 'dist', 'src', 'runtime', 'compile-cache.js')).enableCompileCache(`main-${process.argv[2] || ''}`);
// A peer's worker thread boots while this thread loads the rest.
if (process.argv[2] === 'peer' && !process.argv.includes('--help') && !process.argv.includes('-h')) {
  require(path.join(__dirname, '..', 'dist', 'src', 'actors', 'peer', 'layout.js')).prestartPeer();
}
// Output piped into `head` and the like may close early: that is not an error.
process.stdout.on('error', (err) => { if (err && err.code === 'EPIPE') process.exit(0); throw err; });
require(entry).main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => { process.stderr.write(`p2p: ${err && err.stack ? err.stack : err}\n`); process.exitCode = 1; },
);
