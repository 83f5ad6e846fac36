/**
 * StatusSession: a journal is never overwritten by an older one. A conflict caused by a field
 * another writer owns (a Zone's lock) or by metadata is retried on a fresh read; a conflict where
 * the status itself moved is refused (StaleStatusError), so the reconcile starts again.
 */
import { describe, expect, it } from 'vitest';
import { resourceType } from '../../src/controllers/deps.js';
import { StaleStatusError, StatusSession } from '../../src/controllers/status-session.js';
import type { KubeObject } from '../../src/runtime/kube.js';
import { fakeWorld } from './fake-deps.js';

const zoneType = resourceType({ kind: 'Zone', plural: 'zones' });

function zoneWorld() {
  const world = fakeWorld([{ kind: 'Zone', informer: 'zone' }]);
  world.put({
    apiVersion: 'ops.pitrix.io/v1alpha1',
    kind: 'Zone',
    metadata: { namespace: 'ns', name: 'z' },
    spec: {},
  } as KubeObject);
  const read = () => structuredClone(world.objects.get('Zone/ns/z')!);
  // Another writer changes the stored object after our read.
  const bump = (status: Record<string, unknown>) => {
    const cur = world.objects.get('Zone/ns/z')!;
    world.objects.set('Zone/ns/z', {
      ...cur,
      status,
      metadata: { ...cur.metadata, resourceVersion: `${cur.metadata.resourceVersion}x` },
    });
  };
  return { world, read, bump };
}

describe('StatusSession', () => {
  it('a conflict on a field another writer owns is retried, and their value is kept', async () => {
    const { world, read, bump } = zoneWorld();
    const session = new StatusSession(world.deps, zoneType, read(), {}, ['lock']);
    bump({ lock: { operation: 'ScaleOut' } });
    await session.save({ currentStep: 'addZone' });
    const stored = world.objects.get('Zone/ns/z')!.status as Record<string, unknown>;
    expect(stored.currentStep).toBe('addZone');
    expect(stored.lock).toEqual({ operation: 'ScaleOut' });
  });

  it('a conflict where the status itself moved is refused: our journal is old', async () => {
    const { world, read, bump } = zoneWorld();
    const session = new StatusSession(world.deps, zoneType, read(), {}, ['lock']);
    bump({ currentStep: 'written by a newer reconcile' });
    await expect(session.save({ currentStep: 'addZone' })).rejects.toBeInstanceOf(StaleStatusError);
    expect((world.objects.get('Zone/ns/z')!.status as Record<string, unknown>).currentStep).toBe(
      'written by a newer reconcile',
    );
  });

  it('without foreign fields, a lock change is a status change like any other', async () => {
    const { world, read, bump } = zoneWorld();
    const session = new StatusSession(world.deps, zoneType, read(), {});
    bump({ lock: { operation: 'ScaleOut' } });
    await expect(session.save({ currentStep: 'x' })).rejects.toBeInstanceOf(StaleStatusError);
  });
});
