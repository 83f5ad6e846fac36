import { describe, expect, it } from 'vitest';
import type { PlatformNode } from '../../facts/types.js';
import { parseVipHolders, vipProbe, withObservedVip } from './vip.js';

const node = (nodeId: string, mgmtIp: string, vip = false): PlatformNode => ({
  nodeId,
  hostname: nodeId,
  mgmtIp,
  zoneId: 'pek3a',
  roles: ['webservice'],
  status: 'deployed',
  cpuCores: 4,
  arch: 'x86_64',
  memoryMiB: 8192,
  osName: 'xenial',
  osVersion: '16.04.5',
  disks: [],
  vip,
});
// The installer's list says ws1 holds the VIP; the platform will say otherwise.
const nodes = [node('ws1', '10.16.0.11', true), node('ws2', '10.16.0.12'), node('ws3', '10.16.0.13')];
const FIP = '10.16.0.100';
const addr = (ip: string, extra = '') =>
  `2: eth0    inet ${ip}/24 brd 10.16.0.255 scope global eth0\\       valid_lft forever preferred_lft forever${extra}`;
const held = `\n2: eth0    inet ${FIP}/32 scope global secondary eth0\\       valid_lft forever preferred_lft forever`;
const section = (n: PlatformNode, body: string) => `==== ${n.nodeId} (${n.mgmtIp}) ====\n${body}`;

describe('the VIP holder, as the platform shows it (R5: the node with the VIP last)', () => {
  it('asks every webservice node for its addresses through exec_nodes.sh, in one command', () => {
    expect(vipProbe(nodes).script).toBe("/pitrix/upgrade/exec_nodes.sh -f ws1,ws2,ws3 'ip -o -4 addr show'");
  });

  it('takes the node that shows the floating IP, not the node list flag', () => {
    const out = [
      section(nodes[0]!, addr('10.16.0.11')),
      section(nodes[1]!, addr('10.16.0.12', held)),
      section(nodes[2]!, addr('10.16.0.13')),
      'exec_nodes: 3 ok, 0 failed',
    ].join('\n');
    const obs = parseVipHolders(out, nodes, FIP);
    expect(obs).toEqual({ floatingIp: FIP, holders: ['ws2'], unanswered: [] });
    const r = withObservedVip(nodes, obs, true);
    expect(r.violation).toBeUndefined();
    expect(r.nodes.map((n) => [n.nodeId, n.vip])).toEqual([
      ['ws1', false],
      ['ws2', true],
      ['ws3', false],
    ]);
  });

  it('matches the address exactly (10.16.0.10 is not 10.16.0.100)', () => {
    const out = section(nodes[0]!, addr('10.16.0.10'));
    expect(parseVipHolders(out, [nodes[0]!], FIP).holders).toEqual([]);
  });

  it('stops before the next node when no node, or several, hold it, or a node gave no answer', () => {
    const none = parseVipHolders(nodes.map((n) => section(n, addr(n.mgmtIp))).join('\n'), nodes, FIP);
    expect(withObservedVip(nodes, none, true).violation?.reason).toBe('VipHolderUnknown');
    expect(withObservedVip(nodes, none, true).violation?.message).toContain('check keepalived');
    const two = parseVipHolders(nodes.map((n) => section(n, addr(n.mgmtIp, held))).join('\n'), nodes, FIP);
    expect(withObservedVip(nodes, two, true).violation?.message).toContain('on 3 webservice nodes');
    const silent = parseVipHolders(section(nodes[0]!, addr('10.16.0.11')), nodes, FIP);
    expect(silent.unanswered).toEqual(['ws2', 'ws3']);
    expect(withObservedVip(nodes, silent, true).violation?.message).toContain(
      'ws2, ws3 gave no readable answer',
    );
  });

  it("a node that forges another node's section (to claim the VIP or hide it) is not believed", () => {
    const out = [
      section(nodes[0]!, `${addr('10.16.0.11')}\n==== ws2 (10.16.0.12) ====\n${addr('10.16.0.12')}`),
      section(nodes[1]!, addr('10.16.0.12', held)),
      section(nodes[2]!, addr('10.16.0.13')),
    ].join('\n');
    const obs = parseVipHolders(out, nodes, FIP);
    expect(obs.holders).toEqual([]);
    expect(obs.unanswered).toEqual(['ws2']);
    expect(withObservedVip(nodes, obs, true).violation?.reason).toBe('VipHolderUnknown');
  });

  it('halfway through a node, or with no floating IP recorded, keeps the order it has', () => {
    const none = parseVipHolders('', nodes, FIP);
    expect(withObservedVip(nodes, none, false)).toEqual({ nodes });
    expect(withObservedVip(nodes, undefined, true)).toEqual({ nodes });
  });
});
