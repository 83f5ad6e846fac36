/** bench/lib/audit.ts: which writes of an audit log changed which fields (the idle benchmark's count). */
import { describe, expect, it } from 'vitest';
import { type AuditEvent, summarizeWrites, writesIn } from '../../bench/lib/audit.js';

const zone = (rv: string, status: Record<string, unknown>) => ({
  apiVersion: 'ops.pitrix.io/v1alpha1',
  kind: 'Zone',
  metadata: { name: 'pek3a', namespace: 'ns', resourceVersion: rv, managedFields: [{ time: rv }] },
  status,
});
const ev = (at: string, verb: string, user: string, obj: unknown, sub?: string): AuditEvent => ({
  verb,
  stage: 'ResponseComplete',
  requestURI: '/x',
  user: { username: user },
  userAgent: 'kubernetes-client-javascript/2.0.1',
  objectRef: { resource: 'zones', namespace: 'ns', name: 'pek3a', ...(sub ? { subresource: sub } : {}) },
  responseStatus: { code: 200 },
  responseObject: obj,
  requestReceivedTimestamp: at,
});

describe('bench audit', () => {
  const conditions = [{ type: 'Ready', status: 'True' }];
  const log = [
    ev('2026-12-02T10:00:00Z', 'create', 'admin', zone('1', {})),
    ev('2026-12-02T10:01:00Z', 'update', 'admin', zone('2', { conditions, lastObservedAt: 'a' }), 'status'),
    ev('2026-12-02T10:02:00Z', 'update', 'admin', zone('3', { conditions, lastObservedAt: 'b' }), 'status'),
    ev('2026-12-02T10:03:00Z', 'update', 'admin', zone('4', { conditions, lastObservedAt: 'b' }), 'status'),
    ev('2026-12-02T10:03:30Z', 'update', 'system:apiserver', zone('5', { conditions, lastObservedAt: 'b' })),
  ];

  it('names the fields each write in the window changed, apart from resourceVersion and managedFields', () => {
    const w = writesIn(log, Date.parse('2026-12-02T10:01:30Z'), Date.parse('2026-12-02T10:04:00Z'));
    expect(w.map((x) => [x.object, x.user, x.changed])).toEqual([
      ['zones/ns/pek3a/status', 'admin', ['status.lastObservedAt']],
      ['zones/ns/pek3a/status', 'admin', []],
      ['zones/ns/pek3a', 'system:apiserver', []],
    ]);
    expect(w[0]!.samples).toEqual(['status.lastObservedAt: "a" → "b"']);
    const groups = summarizeWrites(w);
    expect(groups.map((g) => [g.count, g.user, g.verb, g.resource, g.changed])).toEqual([
      [1, 'admin', 'update', 'zones/status', 'status.lastObservedAt'],
      [1, 'admin', 'update', 'zones/status', '(nothing)'],
      [1, 'system:apiserver', 'update', 'zones', '(nothing)'],
    ]);
  });
});
