import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDemoArgs, usage } from './demo-args.js';

const root = resolve(import.meta.dirname, '..');

describe('npm run demo arguments', () => {
  it('defaults to R4, the README demo', () => {
    expect(parseDemoArgs([])).toEqual({ runbooks: ['r4'], all: false, keep: false, timeoutS: 300 });
    expect(parseDemoArgs(['--keep'])).toMatchObject({ runbooks: ['r4'], keep: true });
  });

  it('takes each runbook, and all of them in order', () => {
    for (const r of ['r1', 'r3', 'r4', 'r5'])
      expect(parseDemoArgs(['--runbook', r])).toMatchObject({ runbooks: [r], all: false });
    expect(parseDemoArgs(['--runbook=all', '--keep'])).toMatchObject({
      runbooks: ['r1', 'r3', 'r4', 'r5'],
      all: true,
      keep: true,
    });
    expect(parseDemoArgs(['--runbook', 'R5'])).toMatchObject({ runbooks: ['r5'] });
  });

  it('refuses what it does not know, naming the valid values', () => {
    expect(parseDemoArgs(['--runbook', 'r2'])).toEqual({
      error: "unknown runbook 'r2': use one of r1, r3, r4, r5, all",
    });
    expect(parseDemoArgs(['--runbok', 'r1'])).toHaveProperty('error');
    expect(parseDemoArgs(['r1'])).toHaveProperty('error');
    expect(parseDemoArgs(['--timeout', 'soon'])).toHaveProperty('error');
    expect(parseDemoArgs(['--help'])).toBe('help');
    expect(usage()).toContain('--runbook r1|r3|r4|r5|all');
  });

  // hack/demo.ts itself: the usage before anything starts (no control plane, no simulator).
  const demo = (args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'hack/demo.ts', ...args], {
      cwd: root,
      encoding: 'utf8',
      timeout: 60_000,
    });

  it('an unknown --runbook prints the usage and exits 2', () => {
    const r = demo(['--runbook', 'r9']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("demo: unknown runbook 'r9'");
    expect(r.stderr).toContain('usage: npm run demo -- [--runbook r1|r3|r4|r5|all]');
    expect(r.stdout).toBe('');
  }, 60_000);

  it('--help prints the usage and exits 0', () => {
    const r = demo(['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('usage: npm run demo -- [--runbook r1|r3|r4|r5|all]');
    for (const name of ['r1', 'r3', 'r4', 'r5', 'all'])
      expect(r.stdout).toMatch(new RegExp(`^ +${name} +\\S`, 'm'));
  }, 60_000);
});
