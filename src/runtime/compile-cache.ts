// V8's code cache for this project's own modules (and the packages it
// loads from its node_modules): a module's compiled bytecode is kept on disk
// and used again at the next start instead of parsing and compiling it anew.
// A peer loads about 1.2 MiB of JavaScript on each of two threads before its
// first block (0.8 MiB of it the generated protobuf code); compiling it, and
// each function the first time it runs, is a good part of its start-up (the
// cache brings the first block of a download about 25 ms sooner here).
//
// Node.js 22.1+ does this itself (module.enableCompileCache), and is used when
// present. On Node.js 20 the CommonJS loader's compile step is wrapped for
// files under the project folder only. Every failure here (no cache, a stale
// or rejected one, a folder that cannot be written) means a normal compile:
// the cache can make a start faster, never break it.
// NODE_DISABLE_COMPILE_CACHE=1 turns it off, as it does in Node.js itself.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import Module from 'node:module';
import * as path from 'node:path';
import * as vm from 'node:vm';

const PROJECT_ROOT = path.resolve(__dirname, '..', '..', '..');
/** Beside the packages, so it goes with `npm ci` and needs no other write access. */
export const CACHE_DIR = path.join(PROJECT_ROOT, 'node_modules', '.cache', 'enxame-v8');
/**
 * The caches a thread lacked are written this long after the first module it
 * had to compile: by then they hold the functions its start-up ran (and a first
 * transfer's, in a peer that downloads at once), not only each module's top level.
 */
const WRITE_AFTER_MS = 1000;

interface CjsModule {
  exports: unknown;
  require(id: string): unknown;
}
interface CjsLoader {
  prototype: { _compile(this: CjsModule, content: string, filename: string): unknown };
  _resolveFilename(request: string, parent: CjsModule, isMain: boolean, options?: unknown): string;
  _extensions: unknown;
  _cache: unknown;
  wrap(source: string): string;
}

let enabled = false;
/** What this thread's modules came from: the cache, or a compile (none cached, or a stale or rejected cache). */
export const compileCacheStats = { fromCache: 0, compiled: 0, rejected: 0 };

export interface CompileCacheOptions {
  /** Files under this folder are cached (default: the project folder). */
  root?: string;
  /** Where the caches go (default: CACHE_DIR). */
  dir?: string;
  /** Default: WRITE_AFTER_MS. */
  writeAfterMs?: number;
}

/**
 * Turns the cache on for this thread (each worker thread calls it for itself).
 * `role` names what the thread runs (the peer's main thread, its swarm host...):
 * each role keeps its own cache, since the functions worth keeping differ.
 */
export function enableCompileCache(role: string, options: CompileCacheOptions = {}): void {
  if (enabled || process.env.NODE_DISABLE_COMPILE_CACHE) return;
  enabled = true;
  const dir = options.dir ?? CACHE_DIR;
  const native = (Module as unknown as { enableCompileCache?: (dir: string) => unknown }).enableCompileCache;
  if (typeof native === 'function') {
    try {
      native(dir);
    } catch {
      // no cache, as before
    }
    return;
  }
  wrapCompile(Module as unknown as CjsLoader, role, path.resolve(options.root ?? PROJECT_ROOT), dir, options.writeAfterMs ?? WRITE_AFTER_MS);
}

function wrapCompile(loader: CjsLoader, role: string, root: string, dir: string, writeAfterMs: number): void {
  const compile = loader.prototype._compile;
  const toWrite: { script: vm.Script; file: string; stamp: string }[] = [];
  let timer: NodeJS.Timeout | undefined;
  loader.prototype._compile = function compileWithCache(this: CjsModule, content: string, filename: string): unknown {
    if (!filename.startsWith(root + path.sep) || !filename.endsWith('.js')) return compile.call(this, content, filename);
    let stamp: string;
    try {
      const st = fs.statSync(filename);
      stamp = `${process.version} ${process.arch} ${st.size} ${st.mtimeMs}`;
    } catch {
      return compile.call(this, content, filename);
    }
    const file = path.join(dir, createHash('sha256').update(`${role}\0${filename}`).digest('hex').slice(0, 32) + '.bin');
    const cachedData = readCache(file, stamp);
    const source = content.startsWith('#!') ? '//' + content.slice(2) : content;
    const script = new vm.Script(loader.wrap(source), { filename, cachedData });
    if (cachedData && !script.cachedDataRejected) {
      compileCacheStats.fromCache++;
    } else {
      if (cachedData) compileCacheStats.rejected++;
      compileCacheStats.compiled++;
      toWrite.push({ script, file, stamp });
      timer ??= setTimeout(() => {
        timer = undefined;
        writeCaches(dir, toWrite.splice(0));
      }, writeAfterMs).unref();
    }
    const wrapper = script.runInThisContext({ displayErrors: true }) as (...args: unknown[]) => unknown;
    return wrapper.call(this.exports, this.exports, requireFor(loader, this), this, filename, path.dirname(filename));
  };
}

/** `require` as the CommonJS loader gives it to a module. */
function requireFor(loader: CjsLoader, module: CjsModule): NodeJS.Require {
  const require = ((id: string) => module.require(id)) as NodeJS.Require;
  require.resolve = ((request: string, options?: unknown) => loader._resolveFilename(request, module, false, options)) as NodeJS.RequireResolve;
  require.main = (process as unknown as { mainModule?: NodeJS.Module }).mainModule;
  require.extensions = loader._extensions as NodeJS.RequireExtensions;
  require.cache = loader._cache as NodeJS.Dict<NodeJS.Module>;
  return require;
}

/** The cached bytecode of a module, when it was made from this very file by this Node.js. */
function readCache(file: string, stamp: string): Buffer | undefined {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch {
    return undefined;
  }
  const header = Buffer.from(stamp + '\n');
  return bytes.length > header.length && bytes.subarray(0, header.length).equals(header) ? bytes.subarray(header.length) : undefined;
}

function writeCaches(dir: string, entries: { script: vm.Script; file: string; stamp: string }[]): void {
  try {
    fs.mkdirSync(dir, { recursive: true });
    for (const { script, file, stamp } of entries) {
      // A temporary name, then a rename: a thread or process reading meanwhile sees the old file or the new one.
      const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}`;
      fs.writeFileSync(tmp, Buffer.concat([Buffer.from(stamp + '\n'), script.createCachedData()]));
      fs.renameSync(tmp, file);
    }
  } catch {
    // a folder we cannot write: starts stay as they were
  }
}
