import { describe, expect, it } from 'vitest';
import { decideLock } from './zonelock.js';

const me = { kind: 'NodePool', name: 'hyper', uid: 'u1' };
const other = { holder: { kind: 'WebserviceUpgrade', name: 'ws', uid: 'u2' }, operation: 'Upgrade' };

describe('decideLock', () => {
  it('acquires a free zone', () => expect(decideLock(undefined, me, 'gone')).toEqual({ kind: 'acquire' }));
  it('keeps a lock it holds', () =>
    expect(decideLock({ holder: me, operation: 'ScaleOut' }, me, 'active').kind).toBe('held'));
  it('waits for an active holder', () =>
    expect(decideLock(other, me, 'active')).toEqual({ kind: 'wait', holder: other }));
  it('takes over from a deleted or finished holder', () => {
    expect(decideLock(other, me, 'gone').kind).toBe('acquire');
    expect(decideLock(other, me, 'finished').kind).toBe('acquire');
  });
  it('does not treat a recreated object (new uid) as the holder', () =>
    expect(decideLock({ holder: { ...me, uid: 'old' }, operation: 'ScaleOut' }, me, 'active').kind).toBe(
      'wait',
    ));
});
