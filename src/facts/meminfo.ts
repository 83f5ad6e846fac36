/** Memory size from `/proc/meminfo`. */
import { excerpt, FactsParseError } from './errors.js';

/** `MemTotal:  131916988 kB` → MiB, rounded down (the kernel reports KiB whatever the unit says). */
export function parseMeminfo(text: string): number {
  const m = /^MemTotal:\s*(\d+)\s*kB\s*$/im.exec(text);
  if (!m?.[1]) throw new FactsParseError('meminfo', `no "MemTotal: N kB" line (${excerpt(text)})`);
  const kib = Number(m[1]);
  if (!Number.isSafeInteger(kib) || kib <= 0)
    throw new FactsParseError('meminfo', `MemTotal ${m[1]} is not a size`);
  return Math.floor(kib / 1024);
}
