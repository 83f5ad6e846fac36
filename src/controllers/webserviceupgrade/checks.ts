/**
 * Output verifications of the R5 steps and the readers of the observation round trip. Pure
 * functions over command output.
 */
import { parseSupervisorStatus } from '../../facts/supervisor.js';
import { fingerprintSha256, parseKnownHosts } from '../../ssh/hostkeys.js';
import type { NodeSettings } from './installer.js';
import { parseSettingsText } from './settingsfile.js';

/** `supervisorctl status` on one node: at least one program, every one RUNNING. */
export function verifySupervisor(stdout: string, node: string): string | undefined {
  const r = parseSupervisorStatus(stdout);
  if (!r.services || r.services.length === 0) return `${node}: no supervisor programs (${r.availability})`;
  const bad = r.services.filter((s) => s.state !== 'RUNNING').map((s) => `${s.name} ${s.state}`);
  return bad.length ? `${node}: ${bad.join(', ')} (every program must be RUNNING)` : undefined;
}

/** The fingerprint an `ssh-keyscan` output carries (ed25519 preferred), or undefined. */
export function keyscanFingerprint(output: string | undefined): string | undefined {
  if (!output) return undefined;
  const entries = parseKnownHosts(output);
  const best = entries.find((e) => e.keyType === 'ssh-ed25519') ?? entries[0];
  return best ? fingerprintSha256(best.keyBlob) : undefined;
}

/** A settings file in R5's `key="value"` format; undefined when it is empty or in another shape. */
export function parseNodeSettings(text: string): NodeSettings | undefined {
  if (!text.trim()) return undefined;
  const r = parseSettingsText(text);
  if ('error' in r) return undefined;
  const v = r.values;
  // The observation's section split drops the file's last newline; the installer's files end in one.
  if (!text.endsWith('\n')) text = `${text}\n`;
  const str = (k: string) => (v[k] === undefined || v[k] === '' ? undefined : v[k]);
  return {
    text,
    values: v,
    hostname: str('hostname'),
    role: str('role'),
    zoneId: str('zone_id'),
    mgmtIp: str('mgmt_network_address'),
    mgmtMac: str('mgmt_network_mac_address'),
    physicalHost: str('physical_host'),
    bridge: str('physical_host_network_interface'),
    osName: str('os_name'),
    osVersion: str('os_version'),
  };
}

/** Splits `@@wsu:NAME@@` sections of the observation script's output. */
export function splitSections(stdout: string): Map<string, string> {
  const out = new Map<string, string>();
  let current: string | undefined;
  let lines: string[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^@@wsu:(.+)@@$/.exec(line.trim());
    if (m) {
      if (current) out.set(current, lines.join('\n'));
      current = m[1];
      lines = [];
    } else if (current) lines.push(line);
  }
  if (current) out.set(current, lines.join('\n'));
  return out;
}

/** The webservice_floating_ip recorded in variables.yaml or the per-zone file. */
export function parseFloatingIp(text: string | undefined, key: string | undefined): string | undefined {
  if (!text?.trim()) return undefined;
  if (!key) return /^\s*(\d+\.\d+\.\d+\.\d+)\s*$/m.exec(text)?.[1];
  const m = new RegExp(`^${key}:\\s*['"]?(\\d+\\.\\d+\\.\\d+\\.\\d+)`, 'm').exec(text);
  return m?.[1];
}

/**
 * `virsh list --all` as libvirt prints it: ` Id  Name  State` rows, `-` as the id of a domain that
 * is not running, states such as `running` and `shut off`. Name → state.
 */
export function parseVirshList(out: string): Map<string, string> {
  const domains = new Map<string, string>();
  for (const line of out.split('\n')) {
    const m = /^\s*(\d+|-)\s+(\S+)\s+(\S.*?)\s*$/.exec(line);
    if (m) domains.set(m[2]!, m[3]!);
  }
  return domains;
}

/** The `ls -1` part after `@@kernels@@` of the image check. */
function kernelsListing(out: string): Set<string> | undefined {
  const i = out.indexOf('@@kernels@@');
  if (i < 0) return undefined;
  return new Set(
    out
      .slice(i + '@@kernels@@'.length)
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean),
  );
}

/**
 * Before a node goes down (R5 step 3, seed 004 lines 137–142): libvirt on its physical host knows
 * the VM and /pitrix/kernels/ has the image and definition R5 moves aside.
 */
export function verifyVmDefined(out: string, node: string, host: string): string | undefined {
  const state = parseVirshList(out).get(node);
  if (!state)
    return `virsh list --all on ${host} does not list ${node}: the VM is not where settings/${node} says (physical_host); nothing is shut down`;
  const files = kernelsListing(out);
  if (!files) return `no listing of /pitrix/kernels/ from ${host}; nothing is shut down`;
  const missing = [`${node}.img`, `${node}.xml`].filter((f) => !files.has(f));
  if (missing.length)
    return `/pitrix/kernels/ on ${host} has no ${missing.join(' or ')}: the old image could not be kept for a rollback, so ${node} is not shut down`;
  // An old-N.img of an earlier rebuild is replaced by R5's own `mv` (seed 004 line 141), as the
  // runbook does; the image being kept now is the newer rollback point.
  return undefined;
}
