/**
 * status.progress of a Component: what `get-deploy-qingcloud-component-status.py` says, for display
 * only. The tool names no job and no zone (seed 002 line 102, no arguments), so its answer is
 * followed while this Component's guarded deployment runs (journal: Running) and read once more
 * after it ended if the last answer shown was still "running"; never before our job started and
 * never again afterwards (the newest job could then be another one's). Pure.
 */
import type { Plan } from '../../api/common.js';
import type { ComponentStatus } from '../../api/component.js';
import { DEPLOY_STEP } from './deploy.js';
import type { JobStatus } from './observe.js';

type Progress = NonNullable<ComponentStatus['progress']>;

/** The progress to show: the previous one, a new reading, or undefined (nothing shown yet). */
export function deployProgress(
  previous: { plan?: Plan; progress?: Progress },
  job: JobStatus | undefined,
  now: string,
): Progress | undefined {
  const p = previous.progress;
  const entry = previous.plan?.steps?.find((s) => s.id === DEPLOY_STEP);
  const follow =
    entry?.state === 'Running' || (!!entry && entry.state !== 'Pending' && (!p || p.status === 'running'));
  if (!job || !follow) return p;
  const step = job.step?.slice(0, 512);
  const same =
    p?.jobId === job.jobId && p?.status === job.status && p?.percent === job.progress && p?.step === step;
  if (same) return p;
  return {
    ...(job.jobId ? { jobId: job.jobId } : {}),
    status: job.status,
    ...(job.progress !== undefined ? { percent: job.progress } : {}),
    ...(step ? { step } : {}),
    updatedAt: now,
  };
}
