/**
 * Every assumption the simulator's strict mode allows (ASSUMED in hack/sim/strict.ts) is written
 * down in docs/platform-interface.md, with why and what happens otherwise; and strict mode
 * `'assumed'` allows exactly those beyond the originals.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ASSUMED, strictRefusal } from '../../hack/sim/strict.js';

const doc = readFileSync(new URL('../../docs/platform-interface.md', import.meta.url), 'utf8');
const section = doc.slice(doc.indexOf("### Assumptions the simulator's strict mode allows"));
const table = section.slice(0, section.indexOf('\n### ', 10));

describe('documented assumptions', () => {
  it.each(ASSUMED.map((a) => [a.script, a] as const))('%s has its row', (script, a) => {
    const rows = table.split('\n').filter((l) => l.startsWith(`| \`${script}`));
    expect(rows.length, `no row for ${script}`).toBeGreaterThan(0);
    for (const o of [...(a.options ?? []), ...(a.subcommands ?? [])])
      expect(
        rows.some((r) => r.split('|')[1]!.includes(o)),
        `${script} ${o} not in its row`,
      ).toBe(true);
  });

  it("strict 'assumed' allows the assumptions and nothing else beyond the originals", () => {
    expect(strictRefusal('describe-nodes.py', ['-s', 'all', '-f', 'json'], true)?.code).toBe(2);
    expect(strictRefusal('describe-nodes.py', ['-s', 'all', '-f', 'json'], 'assumed')).toBeUndefined();
    expect(strictRefusal('describe-zones.py', ['-f', 'json'], true)?.code).toBe(127);
    expect(strictRefusal('describe-zones.py', ['-f', 'json'], 'assumed')).toBeUndefined();
    expect(strictRefusal('django_manage.sh', ['check_default_password'], 'assumed')).toBeUndefined();
    // Not assumed: still refused.
    expect(strictRefusal('get-deploy-qingcloud-component-status.py', ['-j', 'x'], 'assumed')?.code).toBe(2);
    expect(strictRefusal('django_manage.sh', ['shell'], 'assumed')?.code).toBe(2);
    expect(strictRefusal('describe-users.py', [], 'assumed')?.code).toBe(127);
  });
});
