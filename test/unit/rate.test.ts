// Rates and sizes as people write them, and the token bucket.
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { formatBytes, InvalidRateError, parseRate, parseSize, TokenBucket } from '../../src/core/rate';

describe('rates and sizes', () => {
  it('reads the usual ways of writing a rate', () => {
    const table: [string, number][] = [
      ['8MiB/s', 8 * 1024 * 1024], ['500KiB/s', 500 * 1024], ['4mbit', 500_000], ['10MB/s', 10_000_000],
      ['1.5MiB', 1.5 * 1024 * 1024], ['800kbit/s', 100_000], ['12345', 12345], ['unlimited', Infinity], ['0', Infinity],
    ];
    for (const [text, bytes] of table) assert.equal(parseRate(text), bytes, text);
    for (const bad of ['', 'fast', '-1MiB', '5 parsecs', 'MiB']) assert.throws(() => parseRate(bad), InvalidRateError, bad);
  });

  it('reads sizes, a bare K/M/G meaning KiB/MiB/GiB', () => {
    assert.equal(parseSize('256KiB'), 262_144);
    assert.equal(parseSize('32M'), 32 * 1024 * 1024);
    assert.equal(parseSize('1MB'), 1_000_000);
    assert.throws(() => parseSize('lots'), InvalidRateError);
    assert.equal(formatBytes(1536), '1.50 KiB');
  });

  it('token bucket holds the long-run rate within 1%', () => {
    fc.assert(fc.property(fc.integer({ min: 10_000, max: 50_000_000 }), fc.integer({ min: 100, max: 65_536 }), (rate, chunk) => {
      const bucket = new TokenBucket(rate, chunk, 0);
      let now = 0;
      let sent = 0;
      while (now < 60_000) {
        now += bucket.take(chunk, now);
        sent += chunk;
      }
      const achieved = (sent - chunk) / (now / 1000);
      assert.ok(Math.abs(achieved - rate) / rate < 0.01 + chunk / (rate * 60), `rate ${rate}, achieved ${achieved.toFixed(0)}`);
    }), { numRuns: 100 });
  });

  it('never makes an unlimited bucket wait', () => {
    assert.equal(new TokenBucket(Infinity, 1, 0).take(1e9, 0), 0);
  });
});
