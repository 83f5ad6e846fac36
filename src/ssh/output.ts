/**
 * Bounded capture of command output: the tail is what explains a failure, so when output exceeds
 * the cap the head is dropped. Secrets are masked on the final text, with enough slack kept that a
 * secret straddling the cut cannot leak a fragment.
 */
export const MASK = '******';

export class TailBuffer {
  private chunks: Buffer[] = [];
  private size = 0;
  private dropped = false;

  constructor(
    private readonly cap: number,
    private readonly slack = 1024,
  ) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    const limit = this.cap + this.slack;
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

  /** The captured text, secrets masked, at most `cap` bytes (plus masks), the tail kept. */
  text(secrets: readonly string[]): string {
    let text = maskSecrets(Buffer.concat(this.chunks).toString('utf8'), secrets);
    const bytes = Buffer.byteLength(text);
    if (bytes > this.cap) {
      // Cut on a character boundary: drop bytes from the head, then any broken UTF-8 lead.
      const buf = Buffer.from(text).subarray(bytes - this.cap);
      let start = 0;
      while (start < buf.length && (buf[start]! & 0xc0) === 0x80) start++;
      text = buf.subarray(start).toString('utf8');
    }
    return text;
  }
}

/** Replaces every occurrence of each secret (longest first, so overlapping secrets mask fully). */
export function maskSecrets(text: string, secrets: readonly string[]): string {
  const sorted = [...new Set(secrets)].filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
  let out = text;
  for (const s of sorted) out = out.replaceAll(s, MASK);
  return out;
}
