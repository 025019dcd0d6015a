// A closed-loop UDP load generator for trackers, the client half of
// `npm run bench:tracker`. It plays a swarm of N peers holding one file of P
// pieces: first every peer announces once (the swarm fills), then for a fixed
// time random peers announce again, with `concurrency` requests always in
// flight (a reply or a timeout sends the next one). It speaks the project's
// protobuf tracker protocol ("p2p") or BEP 15 ("bep15", for reference
// trackers), so every tracker is measured by the same loop.
//
//   node dist/bench/tracker-load-generator.js '<LoadConfig as JSON>'
//
// Prints one JSON LoadResult on standard output.
//
// Requests leave from `sockets` UDP sockets, peers spread over them: a real
// swarm comes from many addresses, and the tracker budgets packets per source.
import * as dgram from 'node:dgram';
import { createHash, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import * as protobuf from 'protobufjs/minimal';
import { p2p } from '../src/gen/proto';

export interface LoadConfig {
  protocol: 'p2p' | 'bep15';
  host: string;
  port: number;
  peers: number;
  pieces: number;
  /** What the measured phase sends: announces, or swarm-map page queries (p2p only). */
  workload: 'announce' | 'query';
  sockets: number;
  concurrency: number;
  seconds: number;
  timeoutMs: number;
  /** Fraction of pieces each peer holds, at random. */
  fill: number;
}

export interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

export interface LoadResult {
  config: LoadConfig;
  /** Filling the swarm: every peer's first announce. */
  populate: { seconds: number; perSecond: number; lost: number };
  seconds: number;
  completed: number;
  perSecond: number;
  /** Requests with no reply within timeoutMs. */
  lost: number;
  /** Error replies, by message. */
  errors: Record<string, number>;
  latencyMs: Percentiles;
  requestBytes: number;
  replyBytes: number;
  /** The swarm size the tracker reported last (p2p), or seeders + leechers (bep15). */
  swarmSize: number;
  /** Pages of the swarm map (query workload). */
  pageCount?: number;
  /** CPU seconds of this generator over the measured phase, per wall second. */
  generatorCpuShare: number;
}

/** One request in flight. */
interface Pending {
  sentAt: number;
  measured: boolean;
}

/** What a reply said. */
interface Reply {
  transactionId: number;
  ok: boolean;
  error?: string;
  swarmSize?: number;
  pageCount?: number;
  token?: Uint8Array;
}

/** A tracker protocol, as the generator needs it. */
interface Dialect {
  connect(transactionId: number): Uint8Array;
  announce(peer: number, transactionId: number, token: Uint8Array, first: boolean): Uint8Array[];
  query?(peer: number, transactionId: number, token: Uint8Array, page: number): Uint8Array;
  parse(bytes: Buffer): Reply | undefined;
}

/** Our protobuf protocol. Each peer's announce body is encoded once; a request adds its token and id. */
function p2pDialect(config: LoadConfig): Dialect {
  const contentId = createHash('sha256').update(`bench ${config.pieces}`).digest();
  const pieceSize = 256 * 1024;
  const bodies: Uint8Array[] = [];
  const ids: Uint8Array[] = [];
  for (let i = 0; i < config.peers; i++) {
    const have = new Uint8Array(Math.ceil(config.pieces / 8));
    for (let b = 0; b < config.pieces; b++) if (Math.random() < config.fill) have[b >> 3]! |= 0x80 >> (b & 7);
    const id = randomBytes(16);
    ids.push(id);
    // Fields 2.. of AnnounceRequest; field 1 (the token) goes in front per request.
    bodies.push(p2p.v1.AnnounceRequest.encode({
      peerId: id, peerKey: createHash('sha256').update(id).digest(), ip: '127.0.0.1', port: 10_000 + (i % 50_000),
      files: [{ contentId, name: 'bench.bin', size: config.pieces * pieceSize, pieceSize, pieceCount: config.pieces, have }],
    }).finish());
  }
  return {
    connect: (transactionId) => p2p.v1.TrackerPacket.encode({ transactionId, connectRequest: { protocolVersion: 1 } }).finish(),
    announce(peer, transactionId, token) {
      const body = bodies[peer]!;
      const tokenField = protobuf.Writer.create().uint32((1 << 3) | 2).bytes(token).finish();
      // TrackerPacket field 1 (transaction id), field 4 (announce_request) framing, then the body.
      const head = protobuf.Writer.create().uint32(1 << 3).uint32(transactionId)
        .uint32((4 << 3) | 2).uint32(tokenField.length + body.length).finish();
      return [head, tokenField, body];
    },
    query: (peer, transactionId, token, page) => p2p.v1.TrackerPacket.encode({
      transactionId, swarmQuery: { connectionToken: token, peerId: ids[peer]!, contentId, page },
    }).finish(),
    parse(bytes) {
      let p: p2p.v1.TrackerPacket;
      try {
        p = p2p.v1.TrackerPacket.decode(bytes);
      } catch {
        return undefined;
      }
      const transactionId = p.transactionId;
      if (p.connectResponse) return { transactionId, ok: true, token: p.connectResponse.connectionToken ?? new Uint8Array(0) };
      if (p.announceResponse) return { transactionId, ok: true, swarmSize: p.announceResponse.peerCount ?? 0 };
      if (p.swarmMap) return { transactionId, ok: true, pageCount: p.swarmMap.pageCount ?? 1, swarmSize: p.swarmMap.files?.[0]?.holderCount ?? 0 };
      return { transactionId, ok: false, error: p.error?.message || 'unexpected reply' };
    },
  };
}

const BEP15_PROTOCOL_ID = 0x41727101980n;
const BEP15_EVENT_NONE = 0;
const BEP15_EVENT_STARTED = 2;

/** The info hash the BEP 15 swarm announces (a whitelisting tracker must be told it). */
export function bep15InfoHash(pieces: number): Buffer {
  return createHash('sha1').update(`bench ${pieces}`).digest();
}

/** BEP 15 (UDP tracker protocol): connect, then 98-byte announces asking for 50 peers. */
function bep15Dialect(config: LoadConfig): Dialect {
  const infoHash = bep15InfoHash(config.pieces);
  const peerIds: Buffer[] = [];
  for (let i = 0; i < config.peers; i++) peerIds.push(Buffer.concat([Buffer.from('-EX0001-'), randomBytes(12)]));
  return {
    connect(transactionId) {
      const b = Buffer.alloc(16);
      b.writeBigUInt64BE(BEP15_PROTOCOL_ID, 0);
      b.writeUInt32BE(0, 8);
      b.writeUInt32BE(transactionId, 12);
      return b;
    },
    announce(peer, transactionId, token, first) {
      const b = Buffer.alloc(98);
      Buffer.from(token).copy(b, 0);
      b.writeUInt32BE(1, 8);
      b.writeUInt32BE(transactionId, 12);
      infoHash.copy(b, 16);
      peerIds[peer]!.copy(b, 36);
      b.writeBigUInt64BE(0n, 56); // downloaded
      b.writeBigUInt64BE(BigInt(config.pieces) * 262_144n, 64); // left: a leecher
      b.writeBigUInt64BE(0n, 72); // uploaded
      b.writeUInt32BE(first ? BEP15_EVENT_STARTED : BEP15_EVENT_NONE, 80);
      b.writeUInt32BE(0, 84); // ip: the source's
      b.writeUInt32BE(peer, 88); // key
      b.writeUInt32BE(50, 92); // num_want
      b.writeUInt16BE(10_000 + (peer % 50_000), 96);
      return [b];
    },
    parse(bytes) {
      if (bytes.length < 8) return undefined;
      const action = bytes.readUInt32BE(0);
      const transactionId = bytes.readUInt32BE(4);
      if (action === 0 && bytes.length >= 16) return { transactionId, ok: true, token: bytes.subarray(8, 16) };
      if (action === 1 && bytes.length >= 20) return { transactionId, ok: true, swarmSize: bytes.readUInt32BE(12) + bytes.readUInt32BE(16) };
      if (action === 3) return { transactionId, ok: false, error: bytes.subarray(8).toString('utf8') || 'error' };
      return { transactionId, ok: false, error: `unexpected action ${action}` };
    },
  };
}

/** Percentiles of the first `n` values of `samples` (sorted in place). */
function percentiles(samples: Float64Array, n: number): Percentiles {
  const s = samples.subarray(0, n).sort();
  const at = (q: number) => (n ? Number(s[Math.min(n - 1, Math.floor(q * n))]!.toFixed(3)) : NaN);
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), p999: at(0.999), max: n ? Number(s[n - 1]!.toFixed(3)) : NaN };
}

export async function runLoad(config: LoadConfig): Promise<LoadResult> {
  const dialect = config.protocol === 'p2p' ? p2pDialect(config) : bep15Dialect(config);
  if (config.workload === 'query' && !dialect.query) throw new Error(`${config.protocol}: no swarm-map query`);
  const sockets: dgram.Socket[] = [];
  const tokens: (Uint8Array | undefined)[] = [];
  const pending = new Map<number, Pending>();
  const errors: Record<string, number> = {};
  let nextTransactionId = 1;
  let swarmSize = 0;
  let pageCount = 1;
  let requestBytes = 0;
  let replyBytes = 0;
  let replies = 0;
  let requests = 0;
  let onReply: (r: Reply, measured: boolean, latency: number) => void = () => undefined;
  const connecting = new Map<number, (token: Uint8Array) => void>();

  const newTransaction = () => {
    nextTransactionId = (nextTransactionId + 1) >>> 0 || 1;
    return nextTransactionId;
  };

  for (let s = 0; s < config.sockets; s++) {
    const socket = dgram.createSocket('udp4');
    socket.on('message', (bytes) => {
      const r = dialect.parse(bytes);
      if (!r) return;
      if (r.token && connecting.has(r.transactionId)) {
        connecting.get(r.transactionId)!(r.token);
        connecting.delete(r.transactionId);
        return;
      }
      const p = pending.get(r.transactionId);
      if (!p) return; // late: already counted as lost
      pending.delete(r.transactionId);
      if (p.measured) {
        replyBytes += bytes.length;
        replies++;
      }
      if (r.swarmSize !== undefined) swarmSize = r.swarmSize;
      if (r.pageCount !== undefined) pageCount = Math.max(1, r.pageCount);
      if (!r.ok) errors[r.error!] = (errors[r.error!] ?? 0) + 1;
      onReply(r, p.measured, performance.now() - p.sentAt);
    });
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    sockets.push(socket);
  }

  // Every socket connects (and tries again) until it holds a token.
  const connectOne = (s: number): Promise<void> => new Promise((resolve, reject) => {
    let tries = 0;
    const attempt = () => {
      if (++tries > 10) { reject(new Error(`socket ${s}: no connect reply from ${config.host}:${config.port}`)); return; }
      const tid = newTransaction();
      const timer = setTimeout(() => { connecting.delete(tid); attempt(); }, 500);
      connecting.set(tid, (token) => { clearTimeout(timer); tokens[s] = new Uint8Array(token); resolve(); });
      sockets[s]!.send(dialect.connect(tid), config.port, config.host);
    };
    attempt();
  });
  for (let s = 0; s < config.sockets; s += 64) {
    await Promise.all(sockets.slice(s, s + 64).map((_, k) => connectOne(s + k)));
  }

  const send = (peer: number, measured: boolean, kind: 'announce' | 'query', first: boolean) => {
    const s = peer % config.sockets;
    const tid = newTransaction();
    const parts = kind === 'announce'
      ? dialect.announce(peer, tid, tokens[s]!, first)
      : [dialect.query!(peer, tid, tokens[s]!, Math.floor(Math.random() * pageCount))];
    if (measured) {
      for (const p of parts) requestBytes += p.length;
      requests++;
    }
    pending.set(tid, { sentAt: performance.now(), measured });
    sockets[s]!.send(parts, config.port, config.host);
  };

  /** Runs a closed loop until `more()` is false, then waits for what is in flight; resolves with the requests lost. */
  const closedLoop = (next: () => void, more: () => boolean, each?: typeof onReply): Promise<number> => new Promise((resolve) => {
    let lost = 0;
    const sweep = setInterval(() => {
      const now = performance.now();
      for (const [tid, p] of pending) {
        if (now - p.sentAt < config.timeoutMs) continue;
        pending.delete(tid);
        lost++;
        if (more()) next();
      }
      if (!more() && pending.size === 0) { clearInterval(sweep); resolve(lost); }
    }, 50);
    onReply = (r, measured, latency) => {
      each?.(r, measured, latency);
      if (more()) next();
    };
    for (let i = 0; i < config.concurrency && more(); i++) next();
  });

  // Phase 1: every peer announces once.
  const populateStart = performance.now();
  let announced = 0;
  const populateLost = await closedLoop(() => send(announced++, false, 'announce', true), () => announced < config.peers);
  const populateSeconds = (performance.now() - populateStart) / 1000;

  if (config.workload === 'query') {
    // Learn how many pages the map has before asking for random ones.
    let asked = false;
    await closedLoop(() => { asked = true; send(0, false, 'query', false); }, () => !asked);
  }

  // Phase 2: the measured closed loop.
  const latencies = { samples: new Float64Array(1 << 20), n: 0 };
  const record = (latency: number) => {
    if (latencies.n === latencies.samples.length) {
      const bigger = new Float64Array(latencies.samples.length * 2);
      bigger.set(latencies.samples);
      latencies.samples = bigger;
    }
    latencies.samples[latencies.n++] = latency;
  };
  const start = performance.now();
  const cpuStart = process.cpuUsage();
  const endAt = start + config.seconds * 1000;
  let completed = 0;
  const running = () => performance.now() < endAt;
  const issue = () => send(Math.floor(Math.random() * config.peers), true, config.workload, false);
  const lost = await closedLoop(issue, running, (r, measured, latency) => {
    if (measured && r.ok) { completed++; record(latency); }
  });
  const seconds = (endAt - start) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  for (const s of sockets) s.close();
  return {
    config,
    populate: { seconds: Number(populateSeconds.toFixed(3)), perSecond: Math.round(config.peers / populateSeconds), lost: populateLost },
    seconds,
    completed,
    perSecond: Math.round(completed / seconds),
    lost,
    errors,
    latencyMs: percentiles(latencies.samples, latencies.n),
    requestBytes: requests ? Math.round(requestBytes / requests) : 0,
    replyBytes: replies ? Math.round(replyBytes / replies) : 0,
    swarmSize,
    pageCount: config.workload === 'query' ? pageCount : undefined,
    generatorCpuShare: Number(((cpu.user + cpu.system) / 1e6 / seconds).toFixed(3)),
  };
}

if (require.main === module) {
  runLoad(JSON.parse(process.argv[2] ?? '{}') as LoadConfig).then(
    (r) => process.stdout.write(JSON.stringify(r) + '\n'),
    (err: Error) => { process.stderr.write(`load generator: ${err.message}\n`); process.exit(1); },
  );
}
