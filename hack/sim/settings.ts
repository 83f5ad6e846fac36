/**
 * The node settings file `/pitrix/conf/settings/N` as runbook R5 shows it (seed 004 lines 79–118):
 * shell-style `key="value"` lines under `## Section` comments. The simulated installer writes and
 * reads only this format; a line in any other shape is an error, as it would be for the real
 * installer's shell tools that source the file.
 */
import { codenameOf } from './render.js';
import type { HostState } from './types.js';

export function renderSettings(h: HostState, firstboxAddress = ''): string {
  const gw = h.address.replace(/\.\d+$/, '.1');
  const role = h.roles.join(',');
  const on = (r: string) => (h.roles.includes(r) ? 'on' : 'off');
  return `## Role
role="${role}"

## Region
is_region="0"
region_id=""
zone_id="${h.zone}"

## Feature
feature_vmnode="${h.vm ? 'on' : 'off'}"
feature_ksnode="${h.roles.includes('webservice') ? 'on' : 'off'}"
feature_vgnode="${on('vg')}"
feature_hypernode="${on('hyper')}"
feature_conntrack="off"

## Firstbox
firstbox_address="${firstboxAddress}"

## General
cpu_arch="x86_64"
cpu_cores="${h.facts.cpu}"
memory_size="${Math.round(h.facts.memoryKb / 1024)}"
os_name="${h.facts.os.codename || codenameOf(h.facts.os.version)}"
os_version="${h.facts.os.version}"
hostname="${h.hostname}"

## Mgmt Network
mgmt_network_interface="eth0"
mgmt_network_address="${h.address}"
mgmt_network_netmask="255.255.255.0"
mgmt_network_gateway="${gw}"
mgmt_network_dns_servers="${gw}"
mgmt_network_mac_address="${h.vm?.mac ?? h.facts.nics[0]?.mac ?? ''}"

## Host
physical_host="${h.vm?.physicalHost ?? ''}"
physical_host_network_interface="${h.vm ? 'br0' : ''}"
physical_host_eip_network_interface=""
`;
}

/** key → value; throws naming the line when a line is not `key="value"`, a comment or blank. */
export function parseSettings(text: string, file: string): Record<string, string> {
  const out: Record<string, string> = {};
  text.split('\n').forEach((line, i) => {
    if (!line.trim() || line.trimStart().startsWith('#')) return;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)="([^"]*)"\s*$/.exec(line);
    if (!m) throw new Error(`${file}: line ${i + 1}: syntax error (expected key="value")`);
    out[m[1]!] = m[2]!;
  });
  return out;
}
