// The REPL actor, on the main thread: it takes the lines the user types (or
// pipes), runs !baixar / !meus_pedacos / !sair / !ajuda (and their English
// names), and shows the progress that download sessions report. Lines read
// from a pipe wait their turn; at a terminal, commands answer at once.
//
// Accepts ReplCommand: InputLine, InputClosed, SessionProgress, SessionDone.
// Sends TrackerClientCommand.QuerySwarm / LeaveSwarm (asks),
// StoreCommand.ListHoldings (ask); spawns peer.DownloadSession actors.
import { p2p } from '../../gen/proto';
import { defineBehavior, type ActorContext, type ActorRef } from '../../runtime';
import { bitfieldFromBytes } from '../../core/bitfield';
import { hex } from '../../core/hex';
import type { PiecePolicy } from '../../core/picker';
import { RateMeter, formatBytes, formatRate } from '../../core/rate';
import type { Messages } from '../../cli/messages';
import type { DownloadSessionProps } from './download-session';

type Command = p2p.v1.ReplCommand.$Properties;

export interface ReplProps {
  store: ActorRef<p2p.v1.StoreCommand.$Properties>;
  tracker: ActorRef<p2p.v1.TrackerClientCommand.$Properties>;
  endpoint: ActorRef<p2p.v1.TcpEndpointCommand.$Properties>;
  heartbeat: ActorRef<p2p.v1.HeartbeatCommand.$Properties>;
  sessionsHost: string;
  policy?: PiecePolicy;
}

/** What the REPL needs from the process it runs in (host-local resource). */
export interface ReplConsole {
  text: Messages;
  interactive: boolean;
  write(text: string): void;
  exit(code: number): void;
  /** Tracing of this peer (for !trace); absent where a program cannot trace. */
  trace?: {
    start(target: string, payloads: boolean): Promise<void>;
    stop(): Promise<string | undefined>;
    current(): string | undefined;
  };
}

const ASK_TIMEOUT_MS = 10_000;
/** In pipe mode, progress lines are printed at most this often per file. */
const PROGRESS_EVERY_MS = 1000;

interface RunningDownload {
  name: string;
  lastPrinted: number;
  lastLine: string;
  /** Download rate, from the progress reports. */
  rate: RateMeter;
  bytesSeen: number;
}

export const Repl = defineBehavior<Command, ReplProps>({
  name: 'peer.Repl',
  inbox: p2p.v1.ReplCommand,
  create: (ctx, props) => new ReplActor(ctx, props),
});

class ReplActor {
  private readonly out: ReplConsole;
  private readonly t: Messages;
  private readonly pendingLines: string[] = [];
  /** A download is running. */
  private busy = false;
  /** A command is running (piped lines wait for it). */
  private running = false;
  private readonly downloads = new Map<string, RunningDownload>();
  private results = { ok: 0, total: 0 };
  private leaving = false;

  constructor(private readonly ctx: ActorContext<Command>, private readonly props: ReplProps) {
    this.out = ctx.resource as ReplConsole;
    this.t = this.out.text;
  }

  started(): void {
    this.prompt();
  }

  receive(m: Command): void {
    switch (m.body) {
      case 'line': this.onLine(m.line!.text ?? ''); break;
      case 'inputClosed': this.onLine('!sair'); break;
      case 'progress': this.onProgress(m.progress!); break;
      case 'done': this.onDone(m.done!); break;
      default: break;
    }
  }

  private prompt(): void {
    this.out.write('> ');
  }

  private onLine(text: string): void {
    if ((this.busy || this.running) && !this.out.interactive) {
      this.pendingLines.push(text);
      return;
    }
    if (!this.out.interactive) this.out.write(text + '\n'); // echo piped commands after the prompt
    this.running = true;
    void this.run(text.trim())
      .catch((err: Error) => this.say(this.t.problem(err.message)))
      .finally(() => {
        this.running = false;
        if (!this.busy && !this.leaving) this.afterCommand();
      });
  }

  private afterCommand(): void {
    const next = this.pendingLines.shift();
    this.prompt();
    if (next !== undefined) this.onLine(next);
  }

  private async run(line: string): Promise<void> {
    if (line === '') return;
    const [command, ...args] = line.split(/\s+/);
    switch (command) {
      case '!baixar': case '!download': return this.download(args.join(' '));
      case '!meus_pedacos': case '!pieces': return this.pieces();
      case '!sair': case '!quit': return this.leave();
      case '!ajuda': case '!help': this.say(this.t.help); return;
      case '!rastrear': case '!trace': return this.trace(args);
      default: this.say(this.t.unknownCommand(command!));
    }
  }

  // ---- !trace ----

  private async trace(args: string[]): Promise<void> {
    const control = this.out.trace;
    const [what, ...rest] = args;
    const payloads = rest.includes('--payloads');
    const file = rest.find((a) => a !== '--payloads');
    if (!control) {
      this.say(this.t.traceUnavailable);
    } else if (what === 'on' || what === 'ligar') {
      const target = file ?? `enxame-${new Date().toISOString().replace(/[:.]/g, '-')}.trace`;
      try {
        await control.start(target, payloads);
        this.say(this.t.traceOn(target));
      } catch (err) {
        this.say(this.t.traceFailed(target, (err as Error).message));
      }
    } else if (what === 'off' || what === 'desligar') {
      const target = await control.stop();
      this.say(target ? this.t.traceOff(target) : this.t.traceNotOn);
    } else {
      const current = control.current();
      this.say(current ? this.t.traceOn(current) : this.t.traceNotOn);
      this.say(this.t.traceUsage);
    }
  }

  private say(text: string): void {
    this.out.write(printable(text) + '\n');
  }

  // ---- !baixar ----

  private async download(name: string): Promise<void> {
    if (this.busy) {
      this.say(this.t.busy);
      return;
    }
    // Both at once: each is a round trip to another thread.
    const [catalog, holdings] = await Promise.all([
      this.ctx.ask(this.props.tracker, { query: { contentId: new Uint8Array(0) } }, p2p.v1.SwarmView, ASK_TIMEOUT_MS)
        .catch((err: Error) => ({ error: err.message, files: [] }) as p2p.v1.SwarmView.$Properties),
      this.ctx.ask(this.props.store, { listHoldings: {} }, p2p.v1.Holdings, 60_000),
    ]);
    if (catalog.error) {
      this.say(this.t.trackerUnreachable(catalog.error));
      return;
    }
    const complete = new Set((holdings.files ?? []).filter((f) => f.complete).map((f) => hex(f.contentId ?? new Uint8Array(0))));
    const inNetwork = catalog.files ?? [];
    const wanted = inNetwork.filter((f) => (!name || f.name === name) && !complete.has(hex(f.contentId ?? new Uint8Array(0))));
    if (wanted.length === 0) {
      this.say(name && !inNetwork.some((f) => f.name === name) ? this.t.noSuchFile(name) : this.t.nothingToDownload);
      return;
    }
    this.busy = true;
    this.results = { ok: 0, total: wanted.length };
    for (const f of wanted) {
      const idHex = hex(f.contentId ?? new Uint8Array(0));
      this.downloads.set(idHex, { name: printable(f.name ?? idHex), lastPrinted: 0, lastLine: '', rate: new RateMeter(5000, 20, Date.now()), bytesSeen: -1 });
      this.say(this.t.downloading(f.name ?? idHex, formatBytes(f.size ?? 0)));
      const props: DownloadSessionProps = {
        contentIdHex: idHex, name: f.name ?? '', store: this.props.store, tracker: this.props.tracker,
        endpoint: this.props.endpoint, heartbeat: this.props.heartbeat, observer: this.ctx.self, policy: this.props.policy,
      };
      this.ctx.spawn('peer.DownloadSession', props, { host: this.props.sessionsHost });
    }
  }

  private onProgress(p: p2p.v1.SessionProgress.$Properties): void {
    const d = this.downloads.get(hex(p.contentId ?? new Uint8Array(0)));
    if (!d) return;
    if (p.note) this.say(`${d.name}: ${p.note}`);
    const total = p.pieceCount ?? 0;
    if (total === 0) return;
    const have = p.piecesHave ?? 0;
    const pct = Math.floor((100 * have) / total);
    const now = Date.now();
    if (d.bytesSeen >= 0) d.rate.record(Math.max(0, (p.bytesHave ?? 0) - d.bytesSeen), now); // the first report may count resumed bytes
    d.bytesSeen = p.bytesHave ?? 0;
    const line = `${d.name}: ${bar(have / total)} ${String(pct).padStart(3)}% ${have}/${total} ` +
      `(${formatBytes(p.bytesHave ?? 0)} / ${formatBytes(p.size ?? 0)}, ${formatRate(d.rate.rate(now))}, ${p.peers ?? 0} peer(s))`;
    if (this.out.interactive) {
      this.out.write(`\r${line}\x1b[K`);
    } else if (now - d.lastPrinted >= PROGRESS_EVERY_MS || have === total) {
      if (line !== d.lastLine) this.say(line);
      d.lastPrinted = now;
    }
    d.lastLine = line;
  }

  private onDone(r: p2p.v1.SessionDone.$Properties): void {
    const idHex = hex(r.contentId ?? new Uint8Array(0));
    if (!this.downloads.delete(idHex)) return;
    if (this.out.interactive) this.out.write('\r\x1b[K');
    if (r.ok) {
      this.results.ok++;
      this.say(this.t.downloadDone(r.name ?? idHex, (r.seconds ?? 0).toFixed(2), r.path ?? ''));
    } else {
      this.say(this.t.downloadFailed(r.name ?? idHex, r.reason ?? ''));
    }
    if (this.downloads.size === 0 && this.busy) {
      this.busy = false;
      if (this.results.total > 1) this.say(this.t.allDone(this.results.ok, this.results.total));
      if (!this.leaving) this.afterCommand();
    }
  }

  // ---- !meus_pedacos ----

  private async pieces(): Promise<void> {
    const holdings = await this.ctx.ask(this.props.store, { listHoldings: {} }, p2p.v1.Holdings, 60_000);
    const files = holdings.files ?? [];
    if (files.length === 0) this.say(this.t.noFiles);
    for (const f of files) {
      const total = f.pieceCount ?? 0;
      const have = bitfieldFromBytes(total, f.have ?? undefined, !!f.complete);
      const held: number[] = [];
      for (let i = 0; i < total; i++) if (have.has(i)) held.push(i);
      this.say(this.t.piecesLine(f.name ?? '?', held.length, total, f.complete ? this.t.complete : this.t.partial) +
        (held.length > 0 && !f.complete ? `: ${ranges(held)}` : '') + `  [${formatBytes(f.size ?? 0)}]`);
    }
    for (const p of holdings.problems ?? []) this.say(this.t.problem(p));
    const stats = await this.ctx.ask(this.props.endpoint, { getTransferStats: {} }, p2p.v1.TransferStats, 10_000);
    const limit = (r: number | null | undefined) => (r ? formatRate(r) : '-');
    this.say(this.t.traffic(formatRate(stats.upRate ?? 0), limit(stats.maxUp), formatBytes(stats.bytesUp ?? 0),
      formatRate(stats.downRate ?? 0), limit(stats.maxDown), formatBytes(stats.bytesDown ?? 0), stats.connections ?? 0));
  }

  // ---- !sair ----

  private async leave(): Promise<void> {
    if (this.leaving) return;
    this.leaving = true;
    this.say(this.t.leaving);
    const r = await this.ctx.ask(this.props.tracker, { leave: {} }, p2p.v1.LeaveResult, 5000)
      .catch((err: Error) => ({ ok: false, error: err.message }));
    if (!r.ok) this.say(this.t.leaveFailed(r.error ?? ''));
    this.say(this.t.left);
    this.out.exit(0);
  }
}

function bar(fraction: number, width = 20): string {
  const full = Math.round(Math.max(0, Math.min(1, fraction)) * width);
  return '[' + '#'.repeat(full) + '.'.repeat(width - full) + ']';
}

/** [0,1,2,5,7,8] -> "0-2, 5, 7-8" */
export function ranges(sorted: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(', ');
}

/**
 * Text from the network made safe for a terminal: control characters (an
 * escape sequence could rewrite the screen) are shown as \uXXXX; line breaks stay.
 */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
