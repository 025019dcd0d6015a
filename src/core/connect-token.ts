// Connection tokens against spoofed sources, as BEP 15 uses connection ids: a
// token is an HMAC of the requester's address and the current time epoch, so
// only someone who receives packets at that address can learn it, and the
// tracker keeps no per-client state to check it. A token stays valid for the
// epoch it was issued in and the next one.
import { createHmac, timingSafeEqual } from 'node:crypto';

const TOKEN_BYTES = 16;
/** Tokens remembered per epoch: an HMAC per request would cost more than the rest of an announce. */
const CACHED_PER_EPOCH = 100_000;

export class ConnectTokens {
  /** Tokens already computed, by epoch, then by address: this epoch and the one before. */
  private readonly cache = new Map<number, Map<string, Buffer>>();

  constructor(private readonly secret: Uint8Array, readonly epochMs = 60_000) {}

  /** How long a freshly issued token is accepted, at least. */
  get ttlMs(): number {
    return this.epochMs;
  }

  issue(address: string, port: number, now: number): Uint8Array {
    return this.tokenFor(address, port, Math.floor(now / this.epochMs));
  }

  verify(token: Uint8Array | undefined | null, address: string, port: number, now: number): boolean {
    if (!token || token.length !== TOKEN_BYTES) return false;
    const epoch = Math.floor(now / this.epochMs);
    const given = Buffer.from(token);
    return timingSafeEqual(given, this.tokenFor(address, port, epoch)) ||
      timingSafeEqual(given, this.tokenFor(address, port, epoch - 1));
  }

  private tokenFor(address: string, port: number, epoch: number): Buffer {
    let known = this.cache.get(epoch);
    if (!known) {
      for (const e of this.cache.keys()) if (e < epoch - 1) this.cache.delete(e);
      known = new Map();
      this.cache.set(epoch, known);
    }
    const source = `${address}|${port}`;
    let token = known.get(source);
    if (!token) {
      token = createHmac('sha256', this.secret).update(`${epoch}|${source}`).digest().subarray(0, TOKEN_BYTES);
      if (known.size >= CACHED_PER_EPOCH) known.clear();
      known.set(source, token);
    }
    return token;
  }
}
