/**
 * A node's settings file `/pitrix/conf/settings/N` in the format runbook R5 shows (seed 004 lines
 * 79–118): shell-style `key="value"` lines under `## Section` comments. The operator reads the
 * node's existing file and rewrites it with only the keys the runbook changes (seed 004 lines
 * 73–77: the temporary address, a MAC from gen_mac.py, the swapped physical host; the OS from the
 * example block's os_name/os_version), every other byte kept. A file in any other shape is not
 * guessed at: it does not parse, and the rollout stops naming the file.
 */

/** The keys R5's settings example names (seed 004 lines 80–117), in its order. */
export const SETTINGS_KEYS = [
  'role',
  'is_region',
  'region_id',
  'zone_id',
  'feature_vmnode',
  'feature_ksnode',
  'feature_vgnode',
  'feature_hypernode',
  'feature_conntrack',
  'firstbox_address',
  'cpu_arch',
  'cpu_cores',
  'memory_size',
  'os_name',
  'os_version',
  'hostname',
  'mgmt_network_interface',
  'mgmt_network_address',
  'mgmt_network_netmask',
  'mgmt_network_gateway',
  'mgmt_network_dns_servers',
  'mgmt_network_mac_address',
  'physical_host',
  'physical_host_network_interface',
  'physical_host_eip_network_interface',
] as const;

/** The keys R5 changes for a rebuild; every other key keeps its line byte for byte. */
export type ChangedKey =
  | 'mgmt_network_address'
  | 'mgmt_network_mac_address'
  | 'physical_host'
  | 'os_name'
  | 'os_version';

const LINE = /^([A-Za-z_][A-Za-z0-9_]*)=(?:"([^"\\$`]*)"|'([^']*)'|([^\s"'\\$`;|&<>]*))\s*$/;

/** `key → value` of a settings file, or an error naming the first line that is not `key="value"`. */
export function parseSettingsText(text: string): { values: Record<string, string> } | { error: string } {
  const values: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    const m = LINE.exec(line);
    if (!m) return { error: `line ${i + 1} is not key="value" (${line.slice(0, 60)})` };
    values[m[1]!] = m[2] ?? m[3] ?? m[4] ?? '';
  }
  return { values };
}

/**
 * The same file with the value of each changed key replaced, written `key="value"` as the
 * runbook's example writes it. Lines of other keys, comments and blank lines are kept as they
 * are. A changed key the file does not have is an error: the operator never adds keys the
 * node's file did not carry (its installer may not know them).
 */
export function editSettingsText(
  text: string,
  changes: Partial<Record<ChangedKey, string>>,
): { text: string } | { error: string } {
  const seen = new Set<string>();
  const out = text.split('\n').map((line) => {
    const m = LINE.exec(line);
    const key = m?.[1] as ChangedKey | undefined;
    if (!key || !(key in changes)) return line;
    seen.add(key);
    return `${key}="${changes[key]}"`;
  });
  const missing = Object.keys(changes).filter((k) => !seen.has(k));
  if (missing.length) return { error: `no ${missing.join(', ')} line to change` };
  return { text: out.join('\n') };
}

/** The line a key has after the edit (what a step's check greps for). */
export const settingsLine = (key: string, value: string) => `${key}="${value}"`;
