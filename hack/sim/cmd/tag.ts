/** R1 step 6–7: migrate_for_tag_server.py against the simulated zone and global tag databases. */
import { updateTagDb } from '../store.js';
import type { TagItem } from '../types.js';
import { CmdError, getopt, out, SERVICES, sleep, str } from './ctx.js';

function pyRepr(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(', ')}]`;
  return `{${Object.entries(v as Record<string, unknown>)
    .map(([k, x]) => `'${k}': ${pyRepr(x)}`)
    .join(', ')}}`;
}

function probe(items: TagItem[]): string {
  const tag_set = items.map(({ tag_id, tag_name, owner, zone_id, resource_count }) => ({
    tag_id,
    tag_name,
    owner,
    zone_id,
    resource_count,
  }));
  return pyRepr({ action: 'DescribeTagsResponse', ret_code: 0, total_count: items.length, tag_set });
}

export async function migrate(args: string[]): Promise<number> {
  const { opts } = getopt(args, ['-z', '-f', '-a']);
  const zone = str(opts['-z']);
  const action = str(opts['-a']) ?? 'insert';
  if (!zone || !str(opts['-f']))
    throw new CmdError(
      'usage: migrate_for_tag_server.py -z ZONE_ID -f ADMIN_CONF -a insert|update|describe',
      2,
    );
  if (!['insert', 'update', 'describe'].includes(action)) throw new CmdError(`unknown action ${action}`, 2);
  const items = updateTagDb(SERVICES, (db) => db.zones[zone]);
  if (!items) throw new CmdError(`zone ${zone}: DescribeTags failed: ret_code 2100 (zone not found)`, 1);
  out(probe(items));
  if (action === 'describe') return 0;
  out(`There are ${items.length} tag items to migrate.`);
  await sleep(Math.min(1500, 20 * items.length));
  const c = updateTagDb(SERVICES, (db) => {
    const n = { tIns: 0, tUpd: 0, tErr: 0, tWarn: 0, rIns: 0, rUpd: 0, rErr: 0 };
    for (const t of db.zones[zone] ?? []) {
      if (t.broken) {
        n.tErr++;
        n.rErr += t.resource_count;
        continue;
      }
      if (t.lost) continue;
      const have = db.migrated[t.tag_id];
      if (have) {
        // Already migrated: an update rewrites it only when the source changed since.
        if (action === 'update' && (have.owner !== t.owner || have.tag_name !== t.tag_name)) {
          db.migrated[t.tag_id] = { ...have, owner: t.owner, tag_name: t.tag_name };
          n.tUpd++;
          n.rUpd += t.resource_count;
        }
        continue;
      }
      const clash = Object.values(db.migrated).some(
        (m) => m.owner === t.owner && m.tag_name === t.tag_name && m.zone_id !== zone,
      );
      db.migrated[t.tag_id] = { owner: t.owner, tag_name: t.tag_name, zone_id: zone, merged: clash };
      if (clash) n.tWarn++;
      else n.tIns++;
      n.rIns += t.resource_count;
    }
    return n;
  });
  const w = (x: number) => String(x).padStart(2);
  out(
    `tag: ${w(c.tIns)} + ${w(c.tUpd)} ^ ${w(c.tErr)} X ${w(c.tWarn)} W  resource_tag: ${w(c.rIns)} + ${w(c.rUpd)} ^ ${w(c.rErr)} X`,
  );
  out('All done.');
  return 0;
}
