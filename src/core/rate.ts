// Rates and sizes as people write them ("8MiB/s", "4mbit", "256KiB"), and the
// token bucket that enforces a rate. Time comes in as `now` (ms).
import { EnxameError } from './errors';

export class InvalidRateError extends EnxameError {
  constructor(readonly text: string, what: 'rate' | 'size') {
    super('INVALID_RATE', what === 'rate'
      ? `"${text}" is not a rate; write e.g. 500KiB/s, 8MiB/s, 10MB/s, 4mbit or unlimited`
      : `"${text}" is not a size; write e.g. 256KiB, 8MiB, 1GiB or a byte count`);
  }
}

const BYTE_UNITS: Record<string, number> = {
  b: 1, k: 1024, kb: 1000, kib: 1024, m: 1024 ** 2, mb: 1000 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1000 ** 3, gib: 1024 ** 3,
};
const BIT_UNITS: Record<string, number> = { bit: 1 / 8, kbit: 1000 / 8, mbit: 1000 ** 2 / 8, gbit: 1000 ** 3 / 8 };

/**
 * Bytes per second. Units: B, KB/MB/GB (powers of 1000), KiB/MiB/GiB and bare
 * K/M/G (powers of 1024), kbit/mbit/gbit (bits, powers of 1000); "/s" optional.
 * 0, "unlimited" and "none" mean no limit (Infinity).
 */
export function parseRate(text: string): number {
  const t = text.trim().toLowerCase();
  if (t === 'unlimited' || t === 'none' || t === '0') return Infinity;
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)(?:\/s|ps)?$/.exec(t);
  if (!m) throw new InvalidRateError(text, 'rate');
  const unit = m[2] ?? '';
  const factor = unit === '' ? 1 : BYTE_UNITS[unit] ?? BIT_UNITS[unit];
  if (factor === undefined) throw new InvalidRateError(text, 'rate');
  const value = Number(m[1]) * factor;
  if (!(value > 0) || !Number.isFinite(value)) throw new InvalidRateError(text, 'rate');
  return value;
}

/** Bytes. Same byte units as parseRate; a bare K/M/G means KiB/MiB/GiB. */
export function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/.exec(text.trim().toLowerCase());
  const factor = m ? (m[2] === '' ? 1 : BYTE_UNITS[m[2]!]) : undefined;
  if (!m || factor === undefined) throw new InvalidRateError(text, 'size');
  const value = Math.round(Number(m[1]) * factor);
  if (!Number.isSafeInteger(value) || value <= 0) throw new InvalidRateError(text, 'size');
  return value;
}

/**
 * A token bucket in the debt model: `take` always reserves the bytes and says
 * how long to wait before sending them, so callers queue in order and the
 * long-run rate is exact.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(private rate: number, private readonly burst: number, now: number) {
    this.tokens = burst;
    this.last = now;
  }

  /** Milliseconds to wait before `bytes` may go (0: now). */
  take(bytes: number, now: number): number {
    if (!Number.isFinite(this.rate)) return 0;
    this.refill(now);
    this.tokens -= bytes;
    return this.tokens >= 0 ? 0 : (-this.tokens / this.rate) * 1000;
  }

  /** Milliseconds until the bucket is out of debt (0: something may go now). */
  delayMs(now: number): number {
    if (!Number.isFinite(this.rate)) return 0;
    this.refill(now);
    return this.tokens >= 0 ? 0 : (-this.tokens / this.rate) * 1000;
  }

  /** Takes `bytes` now, going into debt if need be (the next send waits it out). */
  spend(bytes: number, now: number): void {
    if (!Number.isFinite(this.rate)) return;
    this.refill(now);
    this.tokens -= bytes;
  }

  get bytesPerSecond(): number {
    return this.rate;
  }

  setRate(rate: number, now: number): void {
    this.refill(now);
    this.rate = rate;
  }

  private refill(now: number): void {
    const elapsed = Math.max(0, now - this.last);
    this.last = now;
    if (Number.isFinite(this.rate)) this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.rate) / 1000);
  }
}

/**
 * A limit's bucket: bursts stay short (a twentieth of a second of traffic,
 * at least one block), so any few seconds of traffic keep close to the rate.
 */
export function limitBucket(bytesPerSecond: number, now: number): TokenBucket | undefined {
  if (!(bytesPerSecond > 0) || !Number.isFinite(bytesPerSecond)) return undefined;
  return new TokenBucket(bytesPerSecond, Math.max(16 * 1024, bytesPerSecond / 20), now);
}

/** Bytes per second over a sliding window, counted in short slots. */
export class RateMeter {
  private readonly slots: number[];
  private readonly slotMs: number;
  private slotStart: number;
  private current = 0;
  private readonly since: number;
  total = 0;

  constructor(readonly windowMs = 5000, slotCount = 20, now = 0) {
    this.since = now;
    this.slots = new Array<number>(slotCount).fill(0);
    this.slotMs = windowMs / slotCount;
    this.slotStart = Math.floor(now / this.slotMs);
  }

  record(bytes: number, now: number): void {
    this.advance(now);
    this.slots[this.current] = this.slots[this.current]! + bytes;
    this.total += bytes;
  }

  /** Bytes per second over the last window (the slot under way counts in part). */
  rate(now: number): number {
    this.advance(now);
    const sum = this.slots.reduce((a, b) => a + b, 0);
    const span = Math.min(now - this.since, (this.slots.length - 1) * this.slotMs + (now - this.slotStart * this.slotMs));
    return span > 0 ? (sum * 1000) / span : 0;
  }

  private advance(now: number): void {
    const slot = Math.floor(now / this.slotMs);
    const steps = Math.min(slot - this.slotStart, this.slots.length);
    for (let i = 0; i < steps; i++) {
      this.current = (this.current + 1) % this.slots.length;
      this.slots[this.current] = 0;
    }
    if (slot > this.slotStart) this.slotStart = slot;
  }
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}

export function formatRate(bytesPerSec: number): string {
  return Number.isFinite(bytesPerSec) ? `${formatBytes(Math.round(bytesPerSec))}/s` : 'unlimited';
}
