/**
 * The firstbox as the installer lays it out, for runbook R5: where the node settings, their
 * backups and the floating IP live, which installer tools the version provides (R5.2), and the
 * two ways the plan reaches beyond the firstbox (exec_nodes.sh and the port-22 probe).
 */

import { installerAtLeast } from '../../facts/version.js';
import { shell } from '../../ssh/command.js';
import type { ShellCommand } from '../../ssh/types.js';

/**
 * `/pitrix/conf/settings/NODE` in R5's shell-style `key="value"` format (seed 004 lines 79–118),
 * as the node had it before this upgrade: the whole text (every rewrite edits it, see
 * settingsfile.ts) and the values the plan reads.
 */
export interface NodeSettings {
  text: string;
  values: Record<string, string>;
  hostname?: string;
  role?: string;
  zoneId?: string;
  /** mgmt_network_address */
  mgmtIp?: string;
  /** mgmt_network_mac_address */
  mgmtMac?: string;
  physicalHost?: string;
  /** physical_host_network_interface: the bridge on the physical host (seed 004 line 76). */
  bridge?: string;
  osName?: string;
  osVersion?: string;
}

export interface UpgradeZoneView {
  zoneId: string;
  global: boolean;
  installerVersion: string;
}

export const PACKAGES = {
  global: 'global-webservice,global-website',
  sub: 'pitrix-ks-api,pitrix-ks-cli,zone-webservice',
} as const;

export const settingsPath = (node: string) => `/pitrix/conf/settings/${node}`;
export const settingsBackupDir = (suffix: string) => `/pitrix/conf/settings.${suffix}`;
export const nodeBackupDir = (node: string, name: string) => `/root/${node}-bak/${name}`;
/** Where a physical host keeps its VMs' images (seed 004 line 139: `cd /pitrix/kernels/`). */
export const KERNELS_DIR = '/pitrix/kernels';
/** seed 004 line 74. */
export const GEN_MAC = '/pitrix/bin/gen_mac.py';
const WS_BASE = '/pitrix/build/packages/deb/pitrix-ks-webservice-base';
export const NGINX_CONF = `${WS_BASE}/pitrix/ks/webservice-base/conf/nginx/nginx.conf`;
export const KEEPALIVED = `${WS_BASE}/etc/keepalived`;
export const KEYS_DIR = '/pitrix/conf/variables/keys';
const VARIABLES_YAML = '/pitrix/conf/variables/variables.yaml';
const floatingIpFile = (zoneId: string) => `/pitrix/conf/variables/webservice_floating_ip.${zoneId}`;

/** Where the floating IP is recorded: variables.yaml from installer 4.3.0, a per-zone file before. */
export function floatingIpLocation(zone: UpgradeZoneView): { file: string; key?: string } {
  return installerAtLeast(zone.installerVersion, '4.3.0')
    ? { file: VARIABLES_YAML, key: 'webservice_floating_ip' }
    : { file: floatingIpFile(zone.zoneId) };
}

/** The R5.2 tools: `.py` from installer 4.3.0, `.sh` before. */
export function installerTools(version: string): { genNodeList: string; buildAllinone: string } {
  const py = installerAtLeast(version, '4.3.0');
  return {
    genNodeList: py ? '/pitrix/bin/gen_node_list.py' : '/pitrix/bin/gen_node_list.sh',
    buildAllinone: py ? '/pitrix/build/build_pkgs_allinone.py' : '/pitrix/build/build_pkgs_allinone.sh',
  };
}

/** Exit 0 when something answers on ADDRESS:22 (bash's /dev/tcp; no extra tools on firstbox). */
export function sshPortOpen(address: string): ShellCommand {
  return shell(
    ['timeout', '3', 'bash', '-c', 'exec 3<>/dev/tcp/$0/22', address],
    `probe ssh port of ${address}`,
  );
}

export function execNodes(target: string, inner: ShellCommand, purpose: string, force = false): ShellCommand {
  return shell(['/pitrix/upgrade/exec_nodes.sh', ...(force ? ['-f'] : []), target, inner.script], purpose);
}
