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
execFileSync(process.execPath, [bin('pbjs'), '-t', 'static-module', '-w', 'commonjs', '--force-number',
  '--no-verify', '--no-delimited', '-p', protoDir, '-o', js, ...protos], { stdio: 'inherit' });
// 64-bit fields decode as plain numbers in this project (every size and count
// stays far below 2^53), so protobufjs is told not to use Long objects.
const marker = 'var $protobuf = require("protobufjs/minimal");';
const code = fs.readFileSync(js, 'utf8');
if (!code.includes(marker)) throw new Error('unexpected pbjs output: cannot configure 64-bit numbers');
fs.writeFileSync(js, code.replace(marker, `${marker}\n$protobuf.util.Long = undefined;\n$protobuf.configure();`));
execFileSync(process.execPath, [bin('pbts'), '--no-comments', '-o', dts, js], { stdio: 'inherit' });
