import { describe, expect, it } from 'vitest';
import type { Plan } from '../../api/common.js';
import { DEPLOY_STEP } from './deploy.js';
import { deployProgress } from './progress.js';

const plan = (state: 'Pending' | 'Running' | 'Succeeded' | 'Failed'): Plan => ({
  hash: 'h',
  steps: [{ id: DEPLOY_STEP, command: 'c', state }],
});
const running = { jobId: 'j-2', status: 'running', progress: 40, step: 'install on webservice1' };
const NOW = '2026-12-02T00:00:00Z';

describe('status.progress (display only)', () => {
  it('is not taken from the status tool before our deployment started (it may be another job)', () => {
    expect(deployProgress({ plan: plan('Pending') }, running, NOW)).toBeUndefined();
    expect(deployProgress({}, running, NOW)).toBeUndefined();
    const old = { jobId: 'j-1', status: 'successful', percent: 100 };
    expect(deployProgress({ plan: plan('Pending'), progress: old }, running, NOW)).toBe(old);
  });

  it('follows the tool while our deployment runs, and keeps the reading when nothing changed', () => {
    const p = deployProgress({ plan: plan('Running') }, running, NOW)!;
    expect(p).toEqual({
      jobId: 'j-2',
      status: 'running',
      percent: 40,
      step: 'install on webservice1',
      updatedAt: NOW,
    });
    expect(deployProgress({ plan: plan('Running'), progress: p }, running, 'later')).toBe(p);
  });

  it('reads once more after the job ended, then stops (the newest job could be another one)', () => {
    const last = { jobId: 'j-2', status: 'running', percent: 80 };
    const done = { jobId: 'j-2', status: 'successful', progress: 100 };
    const p = deployProgress({ plan: plan('Succeeded'), progress: last }, done, NOW)!;
    expect(p).toMatchObject({ status: 'successful', percent: 100 });
    const other = { jobId: 'j-9', status: 'running', progress: 5 };
    expect(deployProgress({ plan: plan('Succeeded'), progress: p }, other, NOW)).toBe(p);
  });

  it('shows nothing new when the tool said nothing recognisable', () => {
    const last = { status: 'running', percent: 10 };
    expect(deployProgress({ plan: plan('Running'), progress: last }, undefined, NOW)).toBe(last);
  });
});
