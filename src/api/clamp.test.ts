import { describe, expect, it } from 'vitest';
import { clampedStatus } from '../runtime/status.js';
import { clampStatus, TRUNCATED_MARK } from './clamp.js';
import { NodePoolStatus } from './nodepool.js';
import { TagServerStatus } from './tagserver.js';

const hyper = (nics: number) => ({
  nodes: [
    {
      address: '10.0.0.5',
      phase: 'Collected',
      facts: {
        cpuCores: 64,
        nics: Array.from({ length: nics }, (_, i) => ({ name: `eth${i}`, addresses: [`10.1.${i}.5/24`] })),
      },
    },
  ],
});

describe('status clamped to the CRD bounds', () => {
  it('a hyper with 65 addressed interfaces: 64 kept, the cut named, the status valid', () => {
    const r = clampStatus('NodePool', hyper(65));
    expect(r.value.nodes[0]!.facts.nics).toHaveLength(64);
    expect(r.omitted).toEqual(['status.nodes[0].facts.nics: 1 of 65 item(s) omitted']);
    expect(NodePoolStatus.safeParse(r.value).success).toBe(true);
    expect(NodePoolStatus.safeParse(hyper(65)).success).toBe(false);
  });

  it('long tag names are cut with the marker, extra ones omitted', () => {
    const long = 'x'.repeat(5000);
    const status = {
      migration: { pek3b: { sameNameTags: Array.from({ length: 25 }, (_, i) => `${i}-${long}`) } },
    };
    const r = clampStatus('TagServer', status);
    const tags = r.value.migration.pek3b.sameNameTags;
    expect(tags).toHaveLength(20);
    for (const t of tags) {
      expect([...t]).toHaveLength(256);
      expect(t.endsWith(TRUNCATED_MARK)).toBe(true);
    }
    expect(r.omitted[0]).toBe('status.migration.pek3b.sameNameTags: 5 of 25 item(s) omitted');
    expect(r.omitted).toContain('status.migration.pek3b.sameNameTags[0]: 5002 characters cut to 256');
    expect(TagServerStatus.safeParse(r.value).success).toBe(true);
  });

  it('the writer reports cuts as a Truncated condition, deterministically, and drops it when nothing is cut', () => {
    const once = clampedStatus('NodePool', hyper(70));
    const cond = (once.conditions as Array<{ type: string; message: string }>).find(
      (c) => c.type === 'Truncated',
    )!;
    expect(cond.message).toContain('status.nodes[0].facts.nics: 6 of 70 item(s) omitted');
    expect(clampedStatus('NodePool', { ...hyper(70), conditions: once.conditions })).toEqual(once);
    const fine = clampedStatus('NodePool', { ...hyper(2), conditions: once.conditions });
    expect(fine.conditions).toEqual([]);
  });

  it('leaves a status within bounds untouched', () => {
    const s = hyper(3);
    expect(clampStatus('NodePool', s)).toEqual({ value: s, omitted: [] });
  });
});
