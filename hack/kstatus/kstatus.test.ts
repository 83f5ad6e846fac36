/**
 * The kstatus verdict of our statuses, computed by kstatus itself (hack/kstatus: cli-utils'
 * pkg/kstatus/status, the library Flux's health checks use) on the recorded fixtures that the
 * Argo CD health tests read too (helm/pitrix-operator/argocd/testdata). The fixtures' Reconciling
 * and Stalled must be exactly what kstatusConditions derives from their other conditions, so they
 * cannot drift from src/runtime/kstatus.ts.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { Condition } from '../../src/runtime/conditions.js';
import { kstatusConditions } from '../../src/runtime/kstatus.js';

const root = resolve(import.meta.dirname, '../..');
const testdata = resolve(root, 'helm/pitrix-operator/argocd/testdata');

const EXPECTED: Record<string, 'InProgress' | 'Failed' | 'Current'> = {
  'nodepool-executing': 'InProgress',
  'nodepool-awaiting-approval': 'InProgress',
  'nodepool-paused': 'InProgress',
  'nodepool-new-generation': 'InProgress',
  'nodepool-step-failed': 'Failed',
  'nodepool-refused': 'Failed',
  'nodepool-ready': 'Current',
  'zone-ready': 'Current',
  'zone-unreachable': 'InProgress',
  'zone-secret-missing': 'Failed',
};

interface Obj {
  metadata: { name: string; generation: number };
  status: { conditions: Condition[] };
}
const load = (name: string) => parse(readFileSync(resolve(testdata, `${name}.yaml`), 'utf8')) as Obj;

describe('kstatus (cli-utils) on the recorded statuses', () => {
  it('fixtures carry exactly the Reconciling/Stalled that kstatusConditions derives', () => {
    for (const name of Object.keys(EXPECTED)) {
      const obj = load(name);
      const base = obj.status.conditions.filter((c) => c.type !== 'Reconciling' && c.type !== 'Stalled');
      const at = new Date(base[0]!.lastTransitionTime);
      expect(kstatusConditions(base, obj.metadata.generation, at), name).toEqual(obj.status.conditions);
    }
  });

  it('reads InProgress while a plan runs or waits, Failed when it needs a human, Current when converged', () => {
    const bin = execFileSync('bash', [resolve(root, 'hack/kstatus-assets.sh')], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    }).trim();
    const names = Object.keys(EXPECTED);
    const out = execFileSync(bin, [], { input: JSON.stringify(names.map(load)), encoding: 'utf8' });
    const got = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { status: string; message: string });
    const table = Object.fromEntries(names.map((n, i) => [n, got[i]!.status]));
    console.log(names.map((n, i) => `${n}: ${got[i]!.status} (${got[i]!.message})`).join('\n'));
    expect(table).toEqual(EXPECTED);
    // Without Stalled, kstatus reads a refused spec's Ready=False as InProgress (a pipeline would
    // wait for its timeout): Stalled is what turns "needs a human" into Failed.
    const refused = load('nodepool-refused');
    refused.status.conditions = refused.status.conditions.filter((c) => c.type !== 'Stalled');
    const plain = JSON.parse(execFileSync(bin, [], { input: JSON.stringify(refused), encoding: 'utf8' }));
    expect(plain.status).toBe('InProgress');
  });
});
