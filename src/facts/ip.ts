/** Network interfaces and their addresses from `ip -o addr show`. */
import type { NetworkInterface } from './types.js';

export interface IpResult {
  nics: NetworkInterface[];
  problems: string[];
}

// `2: eth0    inet 10.16.100.11/24 brd 10.16.100.255 scope global eth0\       valid_lft forever ...`
const LINE = /^\d+:\s+(\S+?)(?:@\S+)?\s+(inet6?)\s+(\S+)/;
const ADDRESS = /^(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9a-fA-F:]+)(?:\/\d{1,3})?$/;

/**
 * One interface per name, in first-seen order. Addresses without a prefix (point-to-point peers
 * print `inet A peer B/32`) are kept as the address ip printed. Never throws: unrecognised lines
 * are counted in `problems`.
 */
export function parseIpAddr(text: string): IpResult {
  const byName = new Map<string, NetworkInterface>();
  let skipped = 0;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const m = LINE.exec(line);
    const [, name, , address] = m ?? [];
    if (!name || !address || !ADDRESS.test(address)) {
      skipped++;
      continue;
    }
    const nic = byName.get(name) ?? { name, addresses: [] };
    nic.addresses.push(address);
    byName.set(name, nic);
  }
  const problems = skipped > 0 ? [`ip: ignored ${skipped} unrecognised line(s)`] : [];
  return { nics: [...byName.values()], problems };
}
