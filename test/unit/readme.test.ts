/**
 * Every command the README shows works as the README says. `npm run demo` and `npm test` are what
 * CI and a new user run first (the demo by hack/demo.ts's own test, the tests by CI itself); the
 * others run here. A command added to the README without a case here fails this test.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const readme = readFileSync(resolve(root, 'README.md'), 'utf8');
const commands = [...readme.matchAll(/```(?:sh|bash)\n([\s\S]*?)```/g)]
  .flatMap((m) => m[1]!.split('\n'))
  .map((l) => l.replace(/\s+#.*$/, '').trim())
  .filter((l) => l && !l.startsWith('#'));

const cli = (line: string) => {
  const args = line.replace(/^npx tsx src\/cli\/main\.ts /, '').split(/\s+/);
  return execFileSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000,
  });
};

describe('the README commands', () => {
  it('each has a case here', () => {
    const known = [
      /^npm run demo$/,
      /^npm test$/,
      /^npx tsx src\/cli\/main\.ts run /,
      /^npx tsx src\/cli\/main\.ts plan /,
    ];
    expect(commands.filter((c) => !known.some((k) => k.test(c)))).toEqual([]);
    expect(commands.length).toBeGreaterThanOrEqual(4);
  });

  it('the plan example prints the scale-out of the two example hypers, step by step', () => {
    for (const line of commands.filter((c) => / plan /.test(c))) {
      const out = cli(line);
      expect(out).toMatch(/NodePool pek3a-hyper: plan [0-9a-f]{16}, \d+ step\(s\)/);
      expect(out).toContain('scale-qingcloud.py -z pek3a');
      expect(out).not.toContain('no facts for this node');
      expect(out).not.toContain('nothing to do');
      // The same plan for a CI job: JSON with every step's host and command.
      const json = JSON.parse(cli(`${line} -o json`)) as Array<{ outcome: string; steps: unknown[] }>;
      expect(json[0]?.outcome).toBe('plan');
      expect(json[0]?.steps.length).toBeGreaterThan(5);
    }
    // Two CLI starts (tsx compiles on the fly): slow on a loaded 2-core machine.
  }, 120_000);

  it('the run example names flags the operator accepts', () => {
    const line = commands.find((c) => / run /.test(c))!;
    const usage = execFileSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'help'], {
      cwd: root,
      encoding: 'utf8',
    }).toString();
    for (const flag of line.match(/--[a-z-]+/g) ?? []) expect(usage).toContain(flag);
  }, 60_000);
});
