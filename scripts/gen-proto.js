#!/usr/bin/env node
// Generates src/gen/proto.js (static protobufjs code) and its TypeScript
// declarations from every file in proto/. Generated files are never edited by
// hand; `npm run gen` rewrites them.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const protoDir = path.join(root, 'proto');
const outDir = path.join(root, 'src', 'gen');

function listProtos(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return listProtos(p);
    return e.name.endsWith('.proto') ? [p] : [];
  }).sort();
}

const protos = listProtos(protoDir);
fs.mkdirSync(outDir, { recursive: true });
const js = path.join(outDir, 'proto.js');
const dts = path.join(outDir, 'proto.d.ts');
const bin = (name) => path.join(root, 'node_modules', 'protobufjs-cli', 'bin', name);
const pbjs = (out, extra) => execFileSync(process.execPath, [bin('pbjs'), '-t', 'static-module', '-w', 'commonjs', '--force-number',
  '--no-verify', '--no-delimited', ...extra, '-p', protoDir, '-o', out, ...protos], { stdio: 'inherit' });
// The declarations come from the documented code (pbts reads its JSDoc); the
// code every thread loads is the same without comments or formatting: 0.8 MiB
// of JavaScript to read and keep per thread instead of 1.5 MiB.
const documented = path.join(outDir, 'proto.documented.js');
pbjs(documented, []);
execFileSync(process.execPath, [bin('pbts'), '--no-comments', '-o', dts, documented], { stdio: 'inherit' });
fs.rmSync(documented);
pbjs(js, ['--no-comments', '--no-beautify']);
// 64-bit fields decode as plain numbers in this project (every size and count
// stays far below 2^53), so protobufjs is told not to use Long objects.
const marker = 'var $protobuf = require("protobufjs/minimal");';
const code = fs.readFileSync(js, 'utf8');
if (!code.includes(marker)) throw new Error('unexpected pbjs output: cannot configure 64-bit numbers');
fs.writeFileSync(js, code.replace(marker, `${marker}\n$protobuf.util.Long = undefined;\n$protobuf.configure();`));
