// Reads standard input one line at a time, from a terminal or a pipe alike.
// The same reader answers start-up prompts and then feeds the REPL, so lines
// piped ahead of time are never lost between the two.
import * as readline from 'node:readline';

export class LineInput {
  private readonly lines: string[] = [];
  private waiting?: (line: string | undefined) => void;
  private closed = false;
  private readonly rl: readline.Interface;
  onLine?: (line: string) => void;
  onClose?: () => void;

  constructor(readonly input: NodeJS.ReadableStream = process.stdin, readonly output: NodeJS.WritableStream = process.stdout) {
    this.rl = readline.createInterface({ input, terminal: false, crlfDelay: Infinity });
    this.rl.on('line', (line) => {
      if (this.waiting) {
        const w = this.waiting;
        this.waiting = undefined;
        w(line);
      } else if (this.onLine) {
        this.onLine(line);
      } else {
        this.lines.push(line);
      }
    });
    this.rl.on('close', () => {
      this.closed = true;
      if (this.waiting) {
        const w = this.waiting;
        this.waiting = undefined;
        w(undefined);
      }
      this.onClose?.();
    });
  }

  get isTerminal(): boolean {
    return !!(this.input as NodeJS.ReadStream).isTTY;
  }

  /** Shows `question` and resolves with the next line (undefined at end of input). */
  ask(question: string): Promise<string | undefined> {
    this.output.write(question);
    const queued = this.lines.shift();
    if (queued !== undefined) {
      if (!this.isTerminal) this.output.write('\n');
      return Promise.resolve(queued);
    }
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      this.waiting = (line) => {
        if (!this.isTerminal && line !== undefined) this.output.write('\n');
        resolve(line);
      };
    });
  }

  /** Hands every later line (and the queued ones) to `onLine`. */
  stream(onLine: (line: string) => void, onClose: () => void): void {
    this.onLine = onLine;
    this.onClose = onClose;
    for (const line of this.lines.splice(0)) onLine(line);
    if (this.closed) onClose();
  }

  close(): void {
    this.rl.close();
  }
}
