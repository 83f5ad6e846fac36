import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { kinds } from '../../src/api/kinds.js';
import { aggregateRules, rbacFor } from '../../src/controllers/rbac.js';
import { RUNBOOKS, type RunbookRegistration } from '../../src/controllers/registry.js';

describe('the runbook registry', () => {
  it('holds each shipped kind once, with its own cache and controller name', () => {
    expect(RUNBOOKS.map((r) => r.info.kind)).toEqual(kinds.map((k) => k.kind));
    expect(new Set(RUNBOOKS.map((r) => r.informer)).size).toBe(RUNBOOKS.length);
    expect(new Set(RUNBOOKS.map((r) => r.controller)).size).toBe(RUNBOOKS.length);
  });

  it('derives RBAC from its entries: one more runbook is one more set of rules, nothing else', () => {
    const extra: RunbookRegistration = {
      info: {
        kind: 'ProgramRestart',
        listKind: 'ProgramRestartList',
        plural: 'programrestarts',
        singular: 'programrestart',
        shortNames: [],
        categories: ['pitrix'],
        printerColumns: [],
        schema: z.object({}),
        parse: (o) => o,
      },
      informer: 'programRestart',
      controller: 'programrestart',
      reconciler: () => ({ reconcile: async () => undefined }),
      rbac: [],
    };
    const resources = (list: RunbookRegistration[]) =>
      aggregateRules(rbacFor(list), 'watched').flatMap((r) =>
        r.resources.map((res) => `${res}:${r.verbs.join(',')}`),
      );
    const before = resources([...RUNBOOKS]);
    const after = resources([...RUNBOOKS, extra]);
    expect(before.some((r) => r.startsWith('programrestarts'))).toBe(false);
    expect(after).toContain('programrestarts:get,list,watch,patch');
    expect(after).toContain('programrestarts/status:get,update,patch');
  });
});
