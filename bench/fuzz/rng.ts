/** A small seeded generator (mulberry32): the same seed gives the same requests. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0 || 1;
  }

  /** [0, 1) */
  float(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.float() * (hi - lo + 1));
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.float() * items.length)]!;
  }

  /** One of `choices` by weight. */
  weighted<T>(choices: ReadonlyArray<readonly [number, T]>): T {
    const total = choices.reduce((n, [w]) => n + w, 0);
    let x = this.float() * total;
    for (const [w, v] of choices) if ((x -= w) < 0) return v;
    return choices[choices.length - 1]![1];
  }

  private from(alphabet: string, n: number): string {
    let out = '';
    for (let i = 0; i < n; i++) out += alphabet[Math.floor(this.float() * alphabet.length)];
    return out;
  }

  /** Lowercase id-like: `^[a-z0-9][a-z0-9_-]*$`. */
  slug(n: number): string {
    return this.from('abcdefghijklmnopqrstuvwxyz0123456789', 1) + this.from('abcdefghijklmnopqrstuvwxyz0123456789-_', Math.max(0, n - 1));
  }

  hex(n: number): string {
    return this.from('0123456789abcdef', n);
  }

  word(n: number): string {
    return this.from('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-', n);
  }

  /** Any text: ASCII, punctuation, control characters, accents, emoji, lone surrogates. */
  text(n: number): string {
    let out = '';
    for (let i = 0; i < n; i++) {
      const kind = this.int(0, 9);
      if (kind < 5) out += String.fromCharCode(this.int(0x20, 0x7e));
      else if (kind === 5) out += String.fromCharCode(this.int(0, 0x1f));
      else if (kind === 6) out += this.pick(['é', 'ß', 'Ω', 'ж', '中', '\u200b', '\u202e', '\ufeff']);
      else if (kind === 7) out += this.pick(['💥', '👩‍🔧', '🏳️‍🌈']);
      else if (kind === 8) out += String.fromCharCode(this.int(0xd800, 0xdfff));
      else out += this.pick(['"', '\\', '/', '%', '{', '}', '\n', '\t']);
    }
    return out;
  }
}
