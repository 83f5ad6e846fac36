/** The webservice floating IPs recorded on a firstbox (R5 preparation): address → zone id. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { FirstboxData } from './types.js';

export function floatingIpsOn(root: string, f: FirstboxData): Map<string, string> {
  const map = new Map<string, string>();
  const dir = join(root, 'pitrix/conf/variables');
  const vars = join(dir, 'variables.yaml');
  if (existsSync(vars)) {
    const doc = (parse(readFileSync(vars, 'utf8')) ?? {}) as Record<string, unknown>;
    const ip = doc.webservice_floating_ip;
    // variables.yaml belongs to the firstbox's own (global) zone.
    const zone = f.zones.find((z) => z.is_global_zone === 1)?.zone_id ?? f.zones[0]!.zone_id;
    if (typeof ip === 'string' && ip) map.set(ip, zone);
  }
  if (existsSync(dir)) {
    for (const e of readdirSync(dir)) {
      const m = /^webservice_floating_ip\.(.+)$/.exec(e);
      if (m) map.set(readFileSync(join(dir, e), 'utf8').trim(), m[1]!);
    }
  }
  return map;
}
