import { describe, expect, it } from 'vitest';
import { AT, fixture } from '../../test/fixtures/facts/load.js';
import { FactsParseError } from './errors.js';
import { FIRSTBOX_COMMAND, FIRSTBOX_SCRIPT, parseFirstboxOutput } from './firstbox.js';
import { parseDescribeNodes } from './nodes.js';
import { installerAtLeast } from './version.js';

describe('parseFirstboxOutput', () => {
  it('reads the installer version, nodes (camelCased, flags as booleans) and zones', () => {
    const f = parseFirstboxOutput(fixture('firstbox.txt'), { collectedAt: AT });
    expect(f.installerVersion).toBe('4.6.2');
    expect(installerAtLeast(f, '4.6')).toBe(true);
    expect(f.collectedAt).toBe(AT);
    expect(f.problems).toEqual([]);
    expect(f.nodes.map((n) => [n.nodeId, n.status, n.vip])).toEqual([
      ['webservice1', 'deployed', true],
      ['hyper1', 'deployed', false],
      ['hyper2', 'available', false],
      ['hyper3', 'new', false],
    ]);
    expect(f.nodes[1]).toEqual({
      nodeId: 'hyper1',
      hostname: 'pek3a-hyper1',
      mgmtIp: '10.16.100.13',
      zoneId: 'pek3a',
      roles: ['hyper'],
      status: 'deployed',
      cpuCores: 32,
      arch: 'x86_64',
      memoryMiB: 128825,
      osName: 'Ubuntu',
      osVersion: '14.04.5',
      disks: [
        { device: 'sdb', type: 'sata', sizeGiB: 1788, enabled: true },
        { device: 'sdc', type: 'sata', sizeGiB: 14, enabled: true },
      ],
      vip: false,
    });
    // Comma-separated roles from older installers; hardware unknown before collection.
    expect(f.nodes[2]?.roles).toEqual(['hyper', 'vg']);
    expect(f.nodes[3]).toMatchObject({ cpuCores: null, osVersion: null, disks: [] });
    expect(f.zones).toEqual([
      { zoneId: 'pek3', regionId: 'pek3', isGlobalZone: true, mode: 'standard', status: 'active' },
      { zoneId: 'pek3a', regionId: 'pek3', isGlobalZone: false, mode: 'standard', status: 'active' },
    ]);
  });

  it('an installer without describe-zones: no zones, no problem; suffixes dropped from VERSION', () => {
    const f = parseFirstboxOutput(fixture('firstbox-old-installer.txt'));
    expect(f.installerVersion).toBe('4.2.1');
    expect(installerAtLeast(f, '4.3.0')).toBe(false);
    expect(f.zones).toBeUndefined();
    expect(f.problems).toEqual([]);
  });

  it('names the node and field of a malformed answer', () => {
    const run = () => parseFirstboxOutput(fixture('firstbox-bad-nodes.txt'));
    expect(run).toThrow(FactsParseError);
    expect(run).toThrow(
      'cannot parse nodes: describe-nodes.py answer is malformed: node_set[1].mgmt_ip: Invalid input: expected string, received number; ' +
        'node_set[2].status: Invalid option: expected one of "new"|"collected"|"available"|"deployed"',
    );
  });

  it('reports an API error with its message', () => {
    expect(() => parseFirstboxOutput(fixture('firstbox-api-error.txt'))).toThrow(
      'cannot parse nodes: describe-nodes.py failed with ret_code 1400: PermissionDenied, access key expired',
    );
  });

  it('tolerates warnings before the JSON and rejects non-JSON', () => {
    const json = fixture('firstbox.txt').split('@@pitrix:nodes@@\n')[1]!.split('\n@@pitrix:zones@@')[0]!;
    const warned = `/usr/lib/python2.7/dist-packages/urllib3/__init__.py:50: InsecurePlatformWarning\n${json}`;
    expect(parseDescribeNodes(warned)).toHaveLength(4);
    expect(() => parseDescribeNodes('Traceback (most recent call last):')).toThrow(
      /^cannot parse nodes: describe-nodes.py printed no JSON \("Traceback/,
    );
    expect(() => parseDescribeNodes('[1,2]')).toThrow(/printed no JSON|did not print a JSON object/);
  });

  it('batches the three commands with fixed arguments', () => {
    expect(FIRSTBOX_SCRIPT).toContain('/pitrix/cli/describe-nodes.py -s all -f json');
    expect(FIRSTBOX_COMMAND.purpose).toBe('collect firstbox facts');
  });
});
