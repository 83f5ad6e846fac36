/**
 * Bounded capture of command output. Two shapes: the tail (what explains a failure: a step's
 * journal) or the head (what a parser needs: framing and the first sections come first). Either
 * way `truncated` says that bytes were dropped, and a truncated output is never parsed as if it
 * were complete (callers check it).
 *
 * Secrets are masked on the raw capture *before* it is cut to the cap: every occurrence is found in
 * the whole retained text, and one that straddles the cut is masked as a whole, so no fragment of a
 * secret survives at the edge. The capture keeps `slack` bytes beyond the cap (at least the longest
 * secret), so a secret cut by the bytes already dropped lies outside the part that is shown.
 * Secrets of any length are masked.
 */
export const MASK = '******';

export type OutputKeep = 'tail' | 'head';

export class OutputBuffer {
  private chunks: Buffer[] = [];
  private size = 0;
  private dropped = false;

  constructor(
    private readonly cap: number,
    private readonly slack = 1024,
    private readonly keep: OutputKeep = 'tail',
  ) {}

  push(chunk: Buffer): void {
    const limit = this.cap + this.slack;
    if (this.keep === 'head') {
      const room = limit - this.size;
      if (room <= 0) {
        this.dropped = this.dropped || chunk.length > 0;
        return;
      }
      const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
      if (part.length < chunk.length) this.dropped = true;
      this.chunks.push(part);
      this.size += part.length;
      return;
    }
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size > limit && this.chunks.length > 0) {
      const first = this.chunks[0]!;
      const excess = this.size - limit;
      if (first.length <= excess) {
        this.chunks.shift();
        this.size -= first.length;
      } else {
        this.chunks[0] = first.subarray(excess);
        this.size -= excess;
      }
      this.dropped = true;
    }
  }

  get truncated(): boolean {
    return this.dropped || this.size > this.cap;
  }

  /** The captured text, secrets masked, at most `cap` bytes of it (plus masks), tail or head kept. */
  text(secrets: readonly string[]): string {
    const buf = Buffer.concat(this.chunks);
    const raw = buf.toString('utf8');
    let from = 0;
    let to = raw.length;
    if (buf.length > this.cap) {
      if (this.keep === 'tail') {
        // Cut on a character boundary: skip UTF-8 continuation bytes after the cut.
        let cut = buf.length - this.cap;
        while (cut < buf.length && (buf[cut]! & 0xc0) === 0x80) cut++;
        from = buf.subarray(0, cut).toString('utf8').length;
      } else {
        let cut = this.cap;
        while (cut > 0 && (buf[cut]! & 0xc0) === 0x80) cut--;
        to = buf.subarray(0, cut).toString('utf8').length;
      }
    }
    return maskWindow(raw, secrets, from, to);
  }
}

/** The former name: a buffer that keeps the tail. */
export { OutputBuffer as TailBuffer };

/** Occurrences of the secrets in `text`, longest secret first, never overlapping. */
function secretSpans(text: string, secrets: readonly string[]): Array<[number, number]> {
  const sorted = [...new Set(secrets)].filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
  const spans: Array<[number, number]> = [];
  if (sorted.length === 0) return spans;
  // Linear in the text per secret length (a secret of one character is masked too).
  const covered = new Uint8Array(text.length);
  for (const s of sorted) {
    for (let i = text.indexOf(s); i >= 0; i = text.indexOf(s, i + 1)) {
      let free = true;
      for (let k = i; k < i + s.length; k++) if (covered[k]) free = false;
      if (!free) continue;
      covered.fill(1, i, i + s.length);
      spans.push([i, i + s.length]);
    }
  }
  return spans.sort((x, y) => x[0] - y[0]);
}

/** text[from, to) with every secret occurrence that touches the window replaced by MASK. */
function maskWindow(text: string, secrets: readonly string[], from: number, to: number): string {
  let out = '';
  let pos = from;
  for (const [s, e] of secretSpans(text, secrets)) {
    if (e <= from || s >= to) continue;
    out += text.slice(pos, Math.max(s, from)) + MASK;
    pos = Math.min(e, to);
  }
  return out + text.slice(pos, to);
}

/** Replaces every occurrence of each secret (longest first, so overlapping secrets mask fully). */
export function maskSecrets(text: string, secrets: readonly string[]): string {
  return maskWindow(text, secrets, 0, text.length);
}
