// Per-source packet limits for the tracker: each source address gets a token
// bucket of packets, so one source flooding requests is cut off while every
// other source is served as usual. Memory is bounded: past `maxSources`, the
// source seen least recently is forgotten (it starts again with a full bucket).
import { TokenBucket } from './rate';

export interface SourceLimits {
  /** Packets per second a source may send in the long run. */
  perSecond: number;
  /** Packets it may send at once. */
  burst: number;
  maxSources: number;
}

export const DEFAULT_SOURCE_LIMITS: SourceLimits = { perSecond: 200, burst: 400, maxSources: 100_000 };
/** A source's place in the recency order is refreshed at most this often (moving it on every packet costs too much). */
const RECENCY_REFRESH_MS = 1000;

interface SourceBucket {
  bucket: TokenBucket;
  seenAt: number;
}

export class SourceLimiter {
  private readonly buckets = new Map<string, SourceBucket>();
  /** Packets refused, per source, since the last `drainRefused`. */
  private refused = new Map<string, number>();

  constructor(private readonly limits: SourceLimits = DEFAULT_SOURCE_LIMITS) {}

  /** True when the packet from `source` may be handled now (and counts it). */
  allow(source: string, now: number): boolean {
    let entry = this.buckets.get(source);
    if (!entry) {
      if (this.buckets.size >= this.limits.maxSources) this.buckets.delete(this.buckets.keys().next().value!);
      entry = { bucket: new TokenBucket(this.limits.perSecond, this.limits.burst, now), seenAt: now };
      this.buckets.set(source, entry);
    } else if (now - entry.seenAt >= RECENCY_REFRESH_MS) {
      // Re-inserted: the map's order is least recently seen first.
      this.buckets.delete(source);
      this.buckets.set(source, entry);
      entry.seenAt = now;
    }
    const bucket = entry.bucket;
    if (bucket.delayMs(now) > 0) {
      if (this.refused.size < 1000 || this.refused.has(source)) this.refused.set(source, (this.refused.get(source) ?? 0) + 1);
      return false;
    }
    bucket.spend(1, now);
    return true;
  }

  get sources(): number {
    return this.buckets.size;
  }

  /** The sources refused since the last call, with how many packets each. */
  drainRefused(): Map<string, number> {
    const out = this.refused;
    this.refused = new Map();
    return out;
  }
}
