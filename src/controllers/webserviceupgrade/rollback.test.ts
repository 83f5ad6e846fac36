import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { JOB_ROOT } from '../../runbook/jobguard.js';
import { parseNodeSettings } from './checks.js';
import { planRollback } from './rollback.js';

const root = mkdtempSync(join(tmpdir(), 'wsu-jobs-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const plan = planRollback({
  node: 'ws1',
  address: '10.16.1.21',
  original: parseNodeSettings('physical_host="hyper1"\nos_version="16.04.5"\n')!,
  backupSuffix: '20261121',
  installerVersion: '4.6.2',
  zoneId: 'pek3a',
  rollout: 'rebuild@2026-11-21T08:00:00Z',
}).plan;

/** The rollback's first step, through the real /bin/sh, with the job root moved to a temp dir. */
function setAside(): { code: number | null; err: string } {
  const s = plan.steps[0]!;
  expect(s.id).toBe('setAsideNodeJobs-ws1');
  const r = spawnSync('/bin/sh', ['-c', s.command.script.replaceAll(JOB_ROOT, root)], { encoding: 'utf8' });
  return { code: r.status, err: r.stderr };
}
const job = (name: string, rc?: string) => {
  mkdirSync(join(root, 'pek3a', name), { recursive: true });
  if (rc !== undefined) writeFileSync(join(root, 'pek3a', name, 'rc'), rc);
};
const ID = '0123456789abcdef';

describe('rollback: the rebuild it undoes is run again by a later rebuild', () => {
  it('sets aside the finished jobs of the node only, and refuses while one has no exit code', () => {
    expect(setAside().code).toBe(0); // no job directory at all
    job(`launchVm-ws1-${ID}`, '0\n');
    job(`installNode-ws1-${ID}`, '0\n');
    job(`deployServices-ws1-${ID}`); // started, no exit code: it may still run
    job(`launchVm-ws10-${ID}`, '0\n'); // another node whose name starts alike
    job(`launchVm-ws1-${ID}.released.1700000000`, '0\n'); // set aside before
    const refused = setAside();
    expect(refused.code).toBe(1);
    expect(refused.err).toContain(`deployServices-ws1-${ID} has recorded no exit code`);
    writeFileSync(join(root, 'pek3a', `deployServices-ws1-${ID}`, 'rc'), '0\n');
    expect(setAside().code).toBe(0);
    const left = readdirSync(join(root, 'pek3a')).sort();
    for (const k of ['launchVm', 'installNode', 'deployServices'])
      expect(existsSync(join(root, 'pek3a', `${k}-ws1-${ID}`)), k).toBe(false);
    expect(left).toContain(`launchVm-ws10-${ID}`);
    expect(left).toContain(`launchVm-ws1-${ID}.released.1700000000`);
    expect(left.filter((f) => f.startsWith(`installNode-ws1-${ID}.released.`))).toHaveLength(1);
    expect(setAside().code).toBe(0); // again: nothing left to set aside
  });

  it('rebuilds the packages and boots the old image under the job guard, after the guard is installed', () => {
    const ids = plan.steps.map((s) => s.id);
    expect(ids.indexOf('installJobGuard')).toBe(ids.indexOf('restoreSettings-ws1') - 1);
    const launch = plan.steps.find((s) => s.id === 'relaunchOldVm-ws1')!;
    expect(launch.job?.dir).toMatch(
      /^\/pitrix\/conf\/operator\/jobs\/pek3a\/relaunchOldVm-ws1-[0-9a-f]{16}$/,
    );
    expect(launch.command.script).toContain("'/pitrix/install/launch_vms.sh ws1'");
  });
});
