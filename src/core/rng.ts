// Randomness as a parameter: the picker and the tests take an Rng, so a run
// can be repeated with a seed while a real peer uses crypto randomness.
export interface Rng {
  /** A uniform integer in [0, bound). */
  nextInt(bound: number): number;
}

/** sfc32, a small fast generator; rejection sampling keeps it uniform. */
export function seededRng(seed: number): Rng {
  let a = 0x9e3779b9, b = 0x243f6a88, c = 0xb7e15162, d = seed >>> 0;
  const next = (): number => {
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0;
    const t = (a + b + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t;
  };
  for (let i = 0; i < 12; i++) next();
  return {
    nextInt(bound: number): number {
      if (!Number.isInteger(bound) || bound <= 0 || bound > 2 ** 32) throw new RangeError(`bad bound ${bound}`);
      const limit = 2 ** 32 - (2 ** 32 % bound);
      for (;;) {
        const x = next();
        if (x < limit) return x % bound;
      }
    },
  };
}

/** Fisher-Yates. */
export function shuffleInPlace<T>(items: T[], rng: Rng): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.nextInt(i + 1);
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}
