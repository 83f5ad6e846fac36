/**
 * The suite's leak check, as a pure function: which secret values appear in what was shown. A
 * multi-line value (an SSH private key) is looked for line by line, so a key that leaks in pieces
 * is found; every needle is also looked for in its JSON-escaped form (Events and statuses are JSON).
 */
export interface Leak {
  /** The file of shown text it was found in. */
  file: string;
  /** The secret, masked: its first two characters and its length, never the value. */
  secret: string;
}

export const MIN_NEEDLE = 6;

/** What to look for of one secret value; values too short to search without false hits give none. */
export function needles(value: string): string[] {
  const lines = value.includes('\n')
    ? value
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l.length >= 20 && !/^-----(BEGIN|END) /.test(l))
    : [value];
  const out = new Set<string>();
  for (const l of lines) {
    if (l.length < MIN_NEEDLE) continue;
    out.add(l);
    out.add(JSON.stringify(l).slice(1, -1));
  }
  return [...out];
}

export const masked = (v: string) => `${v.slice(0, 2)}… (${v.length} chars)`;

export function findLeaks(shown: Array<{ file: string; text: string }>, secrets: string[]): Leak[] {
  const leaks: Leak[] = [];
  for (const value of new Set(secrets))
    for (const n of needles(value))
      for (const f of shown)
        if (f.text.includes(n)) {
          leaks.push({ file: f.file, secret: masked(value) });
          break;
        }
  return leaks;
}
