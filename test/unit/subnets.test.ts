/**
 * Integration files run two at a time (vitest.config.ts): each file's simulated hosts need their
 * own 127.77.<subnet>.0/24, or two files' sshd processes would bind the same addresses. Every
 * simulator a file starts names its subnet, and no subnet is used by two files.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const dir = resolve(import.meta.dirname, '../integration');
const files = readdirSync(dir).filter((f) => f.endsWith('.test.ts'));

describe('simulator subnets of the integration files', () => {
  it('every simulator a file starts names a subnet, and no two files share one', () => {
    const owner = new Map<number, string>();
    const unnamed: string[] = [];
    for (const f of files) {
      const src = readFileSync(join(dir, f), 'utf8');
      const constant = /const SUBNET = (\d+)/.exec(src)?.[1];
      for (const call of src.matchAll(/(startScenario|startPlatform)\(([^;]*?)\)[;\n]/gs)) {
        if (!/subnet/.test(call[2]!)) unnamed.push(`${f}: ${call[0].slice(0, 80)}`);
      }
      const subnets = new Set<number>();
      for (const m of src.matchAll(/subnet: (\d+)/g)) subnets.add(Number(m[1]));
      if (constant) subnets.add(Number(constant));
      for (const s of subnets) {
        expect(owner.get(s) ?? f, `subnet ${s} is used by ${owner.get(s)} and ${f}`).toBe(f);
        owner.set(s, f);
      }
    }
    expect(unnamed).toEqual([]);
  });
});
