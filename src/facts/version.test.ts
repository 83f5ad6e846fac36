import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  compareDebianVersions,
  compareVersions,
  installerAtLeast,
  osAtLeast,
  packageAtLeast,
  qemuAtLeast,
  requireOs,
} from './version.js';

describe('compareVersions', () => {
  it.each([
    ['4.4.3', '4.10', -1],
    ['4.10', '4.4.3', 1],
    ['4.3', '4.3.0', 0],
    ['14.04.5', '14.04.5', 0],
    ['14.04.5', '14.04', 1],
    ['16.04', '14.04.5', 1],
    ['2.11.1', '2.5', 1],
    ['4.6.2-20200612', '4.6.2', 0],
    ['v4.6', '4.6.0', 0],
  ] as const)('%s vs %s → %i', (a, b, want) => {
    expect(compareVersions(a, b)).toBe(want);
  });

  it('refuses a non-version rather than answering "no"', () => {
    expect(() => compareVersions('unknown', '4.3')).toThrow(/not a dotted version: "unknown"/);
  });

  it('is antisymmetric', () => {
    const v = fc.array(fc.nat({ max: 30 }), { minLength: 1, maxLength: 4 }).map((a) => a.join('.'));
    fc.assert(fc.property(v, v, (a, b) => compareVersions(a, b) === -compareVersions(b, a)));
  });
});

describe('compareDebianVersions (dpkg ordering)', () => {
  it.each([
    ['4.6.2-20200612', '4.6.2-20200701', -1],
    ['1:2.5+dfsg-5ubuntu10.51', '2.11+dfsg-1ubuntu7.41', 1],
    ['1.0~rc1', '1.0', -1],
    ['1.0', '1.0-0', 0],
    ['1.0a', '1.0', 1],
    ['4.10.0', '4.9.9', 1],
    ['2.0.0+dfsg-2ubuntu1.46', '2.0.0+dfsg-2ubuntu1.5', 1],
  ] as const)('%s vs %s → %i', (a, b, want) => {
    expect(compareDebianVersions(a, b)).toBe(want);
  });
});

describe('rule helpers', () => {
  const trusty = { os: { name: 'Ubuntu', version: '14.04.3', description: 'Ubuntu 14.04.3 LTS' } };

  it('states R3 zoocassa rule as code, with a message for status', () => {
    expect(osAtLeast(trusty, 'Ubuntu', '14.04.5')).toBe(false);
    expect(requireOs(trusty, 'ubuntu', '14.04.5')).toEqual({
      ok: false,
      message: 'OS Ubuntu 14.04.3 is older than the required ubuntu 14.04.5',
    });
    expect(requireOs({ os: { ...trusty.os, name: 'CentOS Linux' } }, 'Ubuntu', '14.04.5').message).toBe(
      'OS is CentOS Linux 14.04.3, not Ubuntu',
    );
    expect(osAtLeast({ os: { ...trusty.os, version: '16.04' } }, 'Ubuntu', '14.04.5')).toBe(true);
  });

  it('installer, QEMU and package versions', () => {
    expect(installerAtLeast('4.4.3', '4.3.0')).toBe(true);
    expect(installerAtLeast({ installerVersion: '4.2.1' }, '4.3.0')).toBe(false);
    expect(qemuAtLeast({ qemuVersion: null }, '2.0')).toBe(false);
    expect(qemuAtLeast({ qemuVersion: '2.11.1' }, '2.5')).toBe(true);
    const packages = { 'pitrix-ks-tag-server': '4.6.2-20200701' };
    expect(packageAtLeast({ packages }, 'pitrix-ks-tag-server', '4.6.2-20200612')).toBe(true);
    expect(packageAtLeast({ packages }, 'pitrix-ks-proxy-tag', '0')).toBe(false);
    expect(packageAtLeast({ packages }, 'constructor', '0')).toBe(false);
  });
});
