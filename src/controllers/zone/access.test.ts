import { describe, expect, it } from 'vitest';
import { parseZone } from '../../api/zone.js';
import { accessChanges, firstboxAccessOf } from './access.js';

const A = `SHA256:${'a'.repeat(43)}`;
const B = `SHA256:${'b'.repeat(43)}`;

const zone = (firstbox: Record<string, unknown>) =>
  parseZone({
    apiVersion: 'ops.pitrix.io/v1alpha1',
    kind: 'Zone',
    metadata: { name: 'z', namespace: 'ns' },
    spec: { zoneId: 'pek3a', firstbox: { credentialsSecretRef: { name: 'fb' }, ...firstbox } },
  });

describe('firstbox access changes', () => {
  const before = firstboxAccessOf(zone({ host: '10.0.0.1', hostKeyPolicy: 'TrustOnFirstUse' }).spec.firstbox);

  it('reports nothing on the first observation or when nothing changed', () => {
    expect(accessChanges(undefined, before)).toEqual([]);
    expect(accessChanges(before, { ...before })).toEqual([]);
  });

  it('names each changed field with old and new value', () => {
    const after = firstboxAccessOf(
      zone({
        host: '10.6.6.6',
        port: 2222,
        hostKeyPolicy: 'TrustOnFirstUse',
        credentialsSecretRef: { name: 'x' },
      }).spec.firstbox,
    );
    expect(accessChanges(before, after)).toEqual([
      'host 10.0.0.1 -> 10.6.6.6',
      'port 22 -> 2222',
      'credentialsSecret fb -> x',
    ]);
  });

  it('treats host keys as a set', () => {
    const a = firstboxAccessOf(zone({ host: 'h', hostKeys: [B, A] }).spec.firstbox);
    const b = firstboxAccessOf(zone({ host: 'h', hostKeys: [A, B] }).spec.firstbox);
    expect(accessChanges(a, b)).toEqual([]);
    const c = firstboxAccessOf(zone({ host: 'h', hostKeys: [A] }).spec.firstbox);
    expect(accessChanges(a, c)).toEqual([`hostKeys [${A}, ${B}] -> [${A}]`]);
  });
});
