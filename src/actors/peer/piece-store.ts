// The piece store: the only actor that owns the shared folder. It hashes
// the folder's files into manifests at start, serves spans of verified
// pieces, and has each downloaded piece verified by SHA-256 and written
// positionally into NAME.part on the piscina pool (never on an actor's
// thread); it renames NAME.part to NAME only when every piece is verified.
//
// Accepts StoreCommand: ListHoldings (ask -> Holdings), GetManifest (ask ->
// ManifestResult), ReadBlock (ask -> BlockData), OpenDownload (ask ->
// DownloadOpened), WritePiece.
// Sends SessionCommand to download sessions: PieceVerified, PieceCorrupt,
// DownloadFinished, DownloadFailed.
import { open, readdir, rename, stat, unlink, writeFile, readFile, type FileHandle } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { p2p } from '../../gen/proto';
import { defineBehavior, JobPool, type ActorContext, type ActorRef, type Delivery } from '../../runtime';
import { Bitfield } from '../../core/bitfield';
import { checkFileName } from '../../core/file-name';
import { hex } from '../../core/hex';
import {
  BLOCK_SIZE, choosePieceSize, contentId, pieceCount, pieceLength, validateManifest, type ManifestData,
} from '../../core/manifest';
import type { HashResult, HashTask } from './hash-job';
import { VerifyQueue } from './verify-queue';
import { givePieceBuffer, takePieceBuffer } from './piece-buffers';

type Command = p2p.v1.StoreCommand.$Properties;
type SessionCommand = p2p.v1.SessionCommand.$Properties;

export interface PieceStoreProps {
  dir: string;
  pieceSize?: number;
}

const PART_SUFFIX = '.part';
const STATE_SUFFIX = '.part.state';
/** Largest span a connection may read at once: it serves blocks from it. */
const MAX_READ = 64 * BLOCK_SIZE;
/**
 * Test-only fault: with P2P_TEST_CRASH_STORE_AFTER=N the store throws on the
 * Nth piece it is given (once per process), to show that its supervisor
 * restarts it and the download goes on.
 */
const TEST_CRASH_AFTER = Number(process.env.P2P_TEST_CRASH_STORE_AFTER ?? 0);
let writesSeen = 0;
/**
 * A download's file is synced to disk in the background every this many bytes
 * written, so the sync before its rename has little left to do and the disk
 * works while the network does. Here the last sync of a 256 MiB download took
 * about 100 ms with none before it, 18 ms with one every 32 MiB, 4.5 ms with
 * one every 8 MiB.
 */
const EARLY_SYNC_BYTES = 8 * 1024 * 1024;
/** Hashing threads: one core is left to the actors. */
const HASH_THREADS = Math.max(1, Math.min(2, os.availableParallelism() - 1));
/** Downloaded pieces verified in one job at most (see VerifyQueue). */
const PIECES_PER_JOB = 8;
/** How often the resume state of a download is saved at most. */
const STATE_SAVE_MS = 500;

interface StoredFile {
  id: Uint8Array;
  idHex: string;
  manifest: ManifestData;
  path: string;
  have: Bitfield;
  complete: boolean;
  handle?: Promise<FileHandle>;
  // Only while downloading:
  finalPath?: string;
  /** Pieces on the hash pool now: a second copy of one (endgame) is dropped. */
  writing: Set<number>;
  pendingWrites: number;
  /** Bytes written since the last sync started, and that sync while it runs. */
  unsyncedBytes: number;
  syncing?: Promise<void>;
  finishing: boolean;
  failed?: string;
  stateTimer?: NodeJS.Timeout;
}

export const PieceStore = defineBehavior<Command, PieceStoreProps>({
  name: 'peer.PieceStore',
  inbox: p2p.v1.StoreCommand,
  // A crash loses pieces being assembled (they are fetched again), never
  // verified data: everything verified is on disk.
  supervision: { kind: 'restart', maxRestarts: 5, withinMs: 60_000, minBackoffMs: 100, maxBackoffMs: 2_000 },
  create: (ctx, props) => new PieceStoreActor(ctx, props),
});

class PieceStoreActor {
  private readonly files = new Map<string, StoredFile>();
  private readonly problems: string[] = [];
  private readonly dir: string;
  private pool?: JobPool<HashTask, HashResult>;
  /** Set once this instance stops: its pending work no longer reports. */
  private closed = false;

  constructor(private readonly ctx: ActorContext<Command>, private readonly props: PieceStoreProps) {
    this.dir = path.resolve(props.dir);
  }

  async started(): Promise<void> {
    this.pool = new JobPool<HashTask, HashResult>(path.join(__dirname, 'hash-job.js'), HASH_THREADS);
    await this.scanFolder();
  }

  /**
   * The hashing threads start with the store, beside the rest of start-up, even
   * in a peer with nothing to share yet. Started at a download's first piece,
   * they took about 45 ms to load and boot here while the download stood still
   * (a peer gets only a few pieces in flight until its first are verified).
   */
  private get jobs(): JobPool<HashTask, HashResult> {
    if (this.closed || !this.pool) throw new Error('the piece store has stopped'); // no thread may outlive it
    return this.pool;
  }

  private readonly verifier = new VerifyQueue(() => this.jobs, 2 * HASH_THREADS, PIECES_PER_JOB);

  async stopped(): Promise<void> {
    this.closed = true;
    for (const f of this.files.values()) {
      if (f.stateTimer) clearTimeout(f.stateTimer);
      await closeHandle(f);
    }
    await this.pool?.close();
  }

  receive(m: Command, d: Delivery): void {
    switch (m.body) {
      case 'listHoldings': d.reply(p2p.v1.Holdings, { files: this.holdings(), problems: this.problems }); break;
      case 'getManifest': {
        const f = this.files.get(hex(m.getManifest!.contentId ?? new Uint8Array()));
        d.reply(p2p.v1.ManifestResult, f ? { found: true, manifest: f.manifest, complete: f.complete, original: f.complete && !f.finalPath } : { found: false });
        break;
      }
      case 'readBlock': void this.readBlock(m.readBlock!, d); break;
      case 'openDownload': void this.openDownload(m.openDownload!, d); break;
      case 'writePiece':
        if (TEST_CRASH_AFTER > 0 && ++writesSeen === TEST_CRASH_AFTER) throw new Error('test fault: the store crashes on purpose');
        void this.writePiece(m.writePiece!);
        break;
      default: d.fail(`unsupported store command ${String(m.body)}`);
    }
  }

  // ---- sharing ----

  private async scanFolder(): Promise<void> {
    const entries = await readdir(this.dir, { withFileTypes: true });
    for (const e of entries) {
      if (!e.isFile() || e.name.endsWith(PART_SUFFIX) || e.name.endsWith(STATE_SUFFIX)) continue;
      try {
        checkFileName(e.name);
        await this.share(path.join(this.dir, e.name), e.name);
      } catch (err) {
        this.problems.push(`${e.name}: ${(err as Error).message}`);
      }
    }
  }

  private async share(filePath: string, name: string): Promise<void> {
    const { size } = await stat(filePath);
    const pieceSize = choosePieceSize(size, this.props.pieceSize);
    const result = await this.jobs.run({ kind: 'file', path: filePath, pieceSize, size });
    if (result.kind !== 'file') throw new Error('unexpected hash result');
    const manifest: ManifestData = { name, size, pieceSize, pieceHashes: result.hashes };
    const id = contentId(manifest);
    const count = pieceCount(size, pieceSize);
    this.files.set(hex(id), {
      id, idHex: hex(id), manifest, path: filePath, have: Bitfield.full(count), complete: true,
      writing: new Set(), pendingWrites: 0, unsyncedBytes: 0, finishing: false,
    });
  }

  private holdings(): p2p.v1.FileHolding.$Properties[] {
    return [...this.files.values()].filter((f) => !f.failed).map((f) => ({
      contentId: f.id, name: f.manifest.name, size: f.manifest.size, pieceSize: f.manifest.pieceSize,
      pieceCount: f.have.length, complete: f.complete, have: f.complete ? new Uint8Array(0) : f.have.toBytes(),
    }));
  }

  private async readBlock(r: p2p.v1.ReadBlock.$Properties, d: Delivery): Promise<void> {
    const f = this.files.get(hex(r.contentId ?? new Uint8Array()));
    const piece = r.piece ?? 0;
    const offset = r.offset ?? 0;
    const fail = (error: string) => d.reply(p2p.v1.BlockData, { error });
    if (!f) return fail('no such file here');
    if (piece >= f.have.length || !f.have.has(piece)) return fail(`piece ${piece} is not held here`);
    // A span that runs past the piece's end is cut there.
    const length = Math.min(r.length ?? 0, pieceLength(f.manifest, piece) - offset);
    if (length <= 0 || length > MAX_READ) return fail(`block ${offset}+${r.length ?? 0} is outside piece ${piece}`);
    try {
      const handle = await this.handleOf(f);
      // From the pool: the connection that asked gives it back once its blocks are sent.
      const data = takePieceBuffer(length);
      const { bytesRead } = await handle.read(data, 0, length, piece * f.manifest.pieceSize + offset);
      if (bytesRead !== length) {
        givePieceBuffer(data);
        return fail(`short read of ${f.manifest.name}`);
      }
      d.reply(p2p.v1.BlockData, { data });
    } catch (err) {
      fail(`cannot read ${f.manifest.name}: ${(err as Error).message}`);
    }
  }

  private handleOf(f: StoredFile): Promise<FileHandle> {
    f.handle ??= open(f.path, f.complete ? 'r' : 'r+');
    return f.handle;
  }

  // ---- downloading ----

  private async openDownload(r: p2p.v1.OpenDownload.$Properties, d: Delivery): Promise<void> {
    const reply = (x: p2p.v1.DownloadOpened.$Properties) => d.reply(p2p.v1.DownloadOpened, x);
    try {
      const m = r.manifest ?? {};
      const manifest: ManifestData = {
        name: m.name ?? '', size: m.size ?? 0, pieceSize: m.pieceSize ?? 0, pieceHashes: m.pieceHashes ?? [],
      };
      validateManifest(manifest);
      const id = contentId(manifest);
      if (hex(id) !== hex(r.contentId ?? new Uint8Array())) throw new Error('the manifest does not match its content id');
      const existing = this.files.get(hex(id));
      if (existing) {
        if (existing.failed) this.files.delete(existing.idHex);
        else return reply({ have: existing.have.toBytes(), complete: existing.complete, path: existing.finalPath ?? existing.path });
      }
      const finalPath = this.pathInFolder(manifest.name);
      const partPath = finalPath + PART_SUFFIX;
      // Both questions at once: each is a round trip to the file-system threads,
      // and the first piece requests wait for this reply.
      const [taken, state] = await Promise.all([exists(finalPath), readState(finalPath + STATE_SUFFIX)]);
      if (taken) throw new Error(`a different file named "${manifest.name}" already exists in ${this.dir}`);
      // A NAME.part is worth hashing again only when its state says it holds this very file.
      const resumable = !!state && hex(state.contentId ?? new Uint8Array()) === hex(id);
      const handle = resumable ? await openForWriting(partPath) : await open(partPath, 'w+');
      await handle.truncate(manifest.size);
      const count = pieceCount(manifest.size, manifest.pieceSize);
      const f: StoredFile = {
        id, idHex: hex(id), manifest, path: partPath, finalPath, have: new Bitfield(count), complete: false,
        handle: Promise.resolve(handle), writing: new Set(), pendingWrites: 0, unsyncedBytes: 0, finishing: false,
      };
      if (resumable) await this.resume(f);
      this.files.set(f.idHex, f);
      if (f.have.isComplete()) {
        // An empty file, or an interrupted download that had every piece already.
        await this.finalize(f);
        return reply({ have: f.have.toBytes(), complete: true, path: f.path });
      }
      // Saved like after each piece (within STATE_SAVE_MS), not before the reply:
      // a download stopped sooner than that had nothing to resume anyway.
      this.scheduleStateSave(f);
      reply({ have: f.have.toBytes(), complete: false, path: finalPath });
    } catch (err) {
      reply({ error: (err as Error).message });
    }
  }

  /** Keeps the pieces of an earlier NAME.part (its state names this file) that still hash right. */
  private async resume(f: StoredFile): Promise<void> {
    const result = await this.jobs.run({ kind: 'file', path: f.path, pieceSize: f.manifest.pieceSize, size: f.manifest.size });
    if (result.kind !== 'file') return;
    result.hashes.forEach((h, i) => {
      if (Buffer.from(h).equals(Buffer.from(f.manifest.pieceHashes[i]!))) f.have.set(i);
    });
  }

  private pathInFolder(name: string): string {
    const full = path.join(this.dir, checkFileName(name));
    if (path.dirname(full) !== this.dir) throw new Error(`refusing a file name outside the folder: ${JSON.stringify(name)}`);
    return full;
  }

  private async writePiece(w: p2p.v1.WritePiece.$Properties): Promise<void> {
    const f = this.files.get(hex(w.contentId ?? new Uint8Array()));
    if (!f && w.session) {
      // A download this (restarted) store does not know: its session opens it again.
      this.ctx.tell(w.session as ActorRef<SessionCommand>, { downloadLost: { contentId: w.contentId } });
      return;
    }
    if (!f || f.complete || f.failed || f.finishing || !w.session) return;
    const session = w.session as ActorRef<SessionCommand>;
    const piece = w.piece ?? 0;
    const data = w.data ?? new Uint8Array(0);
    if (piece >= f.have.length || f.have.has(piece) || f.writing.has(piece)) {
      givePieceBuffer(data); // a second copy (endgame): its buffer serves the next piece
      return;
    }
    const peerId = Uint8Array.from(w.peerId ?? []); // a copy: the envelope's buffer moves away below
    if (data.length !== pieceLength(f.manifest, piece)) {
      this.ctx.tell(session, { pieceCorrupt: { contentId: f.id, piece, peerId } });
      return;
    }
    f.writing.add(piece);
    f.pendingWrites++;
    try {
      const handle = await this.handleOf(f);
      // The piece's bytes move to the pool thread; the envelope they came in is ours alone.
      const result = await this.verifier.verifyAndWrite(
        // The expected hash is copied out: a view would drag the whole manifest's buffer along.
        { data, expected: new Uint8Array(f.manifest.pieceHashes[piece]!), fd: handle.fd, position: piece * f.manifest.pieceSize },
        ownsWholeBuffer(data) ? data.buffer as ArrayBuffer : undefined);
      givePieceBuffer(result.data);
      if (!result.hashOk) {
        this.ctx.tell(session, { pieceCorrupt: { contentId: f.id, piece, peerId } });
      } else if (result.writeError) {
        this.fail(f, session, `cannot write ${f.manifest.name}${PART_SUFFIX}: ${result.writeError}`);
      } else if (!f.failed) {
        f.have.set(piece);
        this.syncEarly(f, handle, pieceLength(f.manifest, piece)); // `data` moved away
        this.scheduleStateSave(f);
        this.ctx.tell(session, { pieceVerified: { contentId: f.id, piece, peerId } });
      }
    } catch (err) {
      // Stopping (or being replaced after a crash) ends the pool's jobs: that is no disk error.
      if (this.closed) return;
      this.fail(f, session, `cannot write ${f.manifest.name}${PART_SUFFIX}: ${(err as Error).message}`);
    } finally {
      f.writing.delete(piece);
      f.pendingWrites--;
    }
    if (f.have.isComplete() && f.pendingWrites === 0) await this.finish(f, session);
  }

  /** Starts a background sync once enough was written since the last; a failure shows at the final sync. */
  private syncEarly(f: StoredFile, handle: FileHandle, written: number): void {
    f.unsyncedBytes += written;
    if (f.unsyncedBytes < EARLY_SYNC_BYTES || f.syncing) return;
    f.unsyncedBytes = 0;
    f.syncing = handle.datasync().catch(() => undefined).finally(() => { f.syncing = undefined; });
  }

  private fail(f: StoredFile, session: ActorRef<SessionCommand>, reason: string): void {
    if (f.failed) return;
    f.failed = reason;
    this.ctx.tell(session, { downloadFailed: { contentId: f.id, reason } });
  }

  /** All pieces verified: flush, then give the file its real name. */
  private async finish(f: StoredFile, session: ActorRef<SessionCommand>): Promise<void> {
    if (f.finishing || f.complete || f.failed) return;
    try {
      await this.finalize(f);
      this.ctx.tell(session, { downloadFinished: { contentId: f.id, path: f.path } });
    } catch (err) {
      this.fail(f, session, (err as Error).message);
    }
  }

  private async finalize(f: StoredFile): Promise<void> {
    f.finishing = true;
    try {
      const handle = await this.handleOf(f);
      await f.syncing;
      await handle.sync();
      await closeHandle(f);
      if (f.stateTimer) clearTimeout(f.stateTimer);
      if (await exists(f.finalPath!)) throw new Error(`"${f.finalPath}" appeared while downloading; the data stays in ${f.path}`);
      await rename(f.path, f.finalPath!);
      await unlink(f.finalPath! + STATE_SUFFIX).catch(() => undefined);
      f.path = f.finalPath!;
      f.complete = true;
    } finally {
      f.finishing = false;
    }
  }

  private scheduleStateSave(f: StoredFile): void {
    if (f.stateTimer) return;
    f.stateTimer = setTimeout(() => {
      f.stateTimer = undefined;
      void this.saveState(f).catch((err) => this.ctx.log(`cannot save resume state of ${f.manifest.name}: ${(err as Error).message}`));
    }, STATE_SAVE_MS);
  }

  private async saveState(f: StoredFile): Promise<void> {
    if (f.complete || !f.finalPath) return;
    const statePath = f.finalPath + STATE_SUFFIX;
    const bytes = p2p.v1.PartState.encode({ contentId: f.id, manifest: f.manifest, have: f.have.toBytes() }).finish();
    await writeFile(statePath + '.tmp', bytes);
    await rename(statePath + '.tmp', statePath);
  }
}

/** A buffer that no other view shares can move to the pool thread. */
function ownsWholeBuffer(data: Uint8Array): boolean {
  return data.buffer instanceof ArrayBuffer && data.byteLength >= 4096;
}

async function openForWriting(p: string): Promise<FileHandle> {
  try {
    return await open(p, 'r+');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    return open(p, 'w+');
  }
}

async function closeHandle(f: StoredFile): Promise<void> {
  const h = f.handle;
  f.handle = undefined;
  if (h) await (await h.catch(() => undefined))?.close().catch(() => undefined);
}

/** The resume state of an earlier download, when there is a readable one. */
async function readState(p: string): Promise<p2p.v1.PartState | undefined> {
  try {
    return p2p.v1.PartState.decode(await readFile(p));
  } catch {
    return undefined; // nothing to resume, or an unreadable state: start afresh
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}
