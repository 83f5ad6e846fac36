/**
 * Output verifications of the R5 steps and the readers of the observation round trip. Pure
 * functions over command output.
 */
import { parse } from 'yaml';
import { parseSupervisorStatus } from '../../facts/supervisor.js';
import { fingerprintSha256, parseKnownHosts } from '../../ssh/hostkeys.js';
import type { NodeSettings } from './installer.js';

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

/** A settings file (`key: value` YAML as the installer writes it). */
export function parseNodeSettings(text: string): NodeSettings | undefined {
  let doc: Record<string, unknown>;
  try {
    doc = (parse(text) ?? {}) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (typeof doc !== 'object' || Array.isArray(doc)) return undefined;
  const str = (k: string) => (doc[k] === undefined || doc[k] === null ? undefined : String(doc[k]));
  const num = (k: string) => (typeof doc[k] === 'number' ? (doc[k] as number) : undefined);
  return {
    hostname: str('hostname'),
    role: str('role'),
    zoneId: str('zone_id'),
    mgmtIp: str('mgmt_ip'),
    mgmtMac: str('mgmt_mac'),
    physicalHost: str('physical_host'),
    bridge: str('bridge'),
    osName: str('os_name'),
    osVersion: str('os_version'),
    cpu: num('cpu'),
    memoryMb: num('memory_mb'),
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
