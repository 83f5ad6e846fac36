/**
 * What the TagServer controller reads from the global zone's firstbox, in one round trip after the
 * firstbox facts: the server.yaml of each zone in scope (base64, so the bytes and their hash are
 * exact), the migration logs the operator leaves there, the tag packages placed in /pitrix/repo,
 * and through `exec_nodes.sh` the installed packages and pushed config of the nodes that run the
 * tag service. Plus the pre-flight probe (`-a describe`) of a zone's tags, run on one of its
 * webservice nodes. Commands here are read-only; parsing is pure.
 */
import { parsePackages } from '../../facts/packages.js';
import { END_SECTION, MARKER_FUNCTION, splitSections } from '../../facts/sections.js';
import { inDir, quote, shell, validated } from '../../ssh/command.js';
import type { ShellCommand } from '../../ssh/types.js';

export const CONF_DIR = '/pitrix/conf/variables/global';
export const TAG_SCRIPT_DIR = '/pitrix/lib/pitrix-scripts/src/tag/';
export const ADMIN_CONF = '/pitrix/conf/admin_beta.yaml';
/** Where the operator keeps each zone's migration output on firstbox: its presence means "ran". */
export const MIGRATION_LOG_DIR = '/pitrix/conf/operator/tagserver';

export const serverYamlPath = (zoneId: string) => `${CONF_DIR}/server.yaml.${zoneId}`;
export const migrationLogPath = (zoneId: string, action: 'insert' | 'update') =>
  `${MIGRATION_LOG_DIR}/${zoneId}.${action}.log`;

/** `exec_nodes.sh NODE 'cd DIR && ./migrate_for_tag_server.py -z ZONE -f CONF -a ACTION'` (R1.6). */
export function migrateCommand(
  nodeId: string,
  zoneId: string,
  action: 'insert' | 'update' | 'describe',
): ShellCommand {
  const inner = inDir(
    TAG_SCRIPT_DIR,
    shell(
      ['./migrate_for_tag_server.py', '-z', zoneId, '-f', ADMIN_CONF, '-a', action],
      `migrate tags (${action})`,
    ),
  );
  return shell(
    ['/pitrix/upgrade/exec_nodes.sh', validated('NODE_ID', nodeId, 'webservice node id'), inner.script],
    `migrate the tags of ${zoneId} (${action}) on ${nodeId}`,
  );
}

const NODE_SCRIPT = [
  "printf '@@node-pkgs@@\\n'",
  shell(['dpkg-query', '-W', '-f=${Package} ${Version} ${Status}\\n', 'pitrix-*'], 'list packages').script,
  "printf '\\n@@node-conf@@\\n'",
  'cat /pitrix/conf/server.yaml',
].join('; ');

export interface ObserveRequest {
  /** Zones whose server.yaml is read. */
  configZones: string[];
  /** Zones whose migration logs are read. */
  migrationZones: string[];
  /** Node ids whose packages and pushed config are read (through exec_nodes.sh). */
  nodeIds: string[];
}

export function observeCommand(req: ObserveRequest): ShellCommand {
  const lines = ['export LC_ALL=C', MARKER_FUNCTION];
  for (const z of req.configZones) {
    const zone = validated('ZONE_ID', z, 'zone id');
    lines.push(
      `m yaml-${zone}; [ -e ${quote(serverYamlPath(zone))} ] && base64 -w0 < ${quote(serverYamlPath(zone))}`,
    );
  }
  for (const z of req.migrationZones) {
    const zone = validated('ZONE_ID', z, 'zone id');
    for (const action of ['insert', 'update'] as const) {
      const log = quote(migrationLogPath(zone, action));
      // Only the lines the verdict needs: the probe response can be large.
      lines.push(
        `m ${action}-${zone}; [ -e ${log} ] && { echo present; grep -E '^(There are [0-9]+ tag items|[[:space:]]*tag:|All done|exec_nodes:)' ${log}; true; }`,
      );
    }
  }
  lines.push(
    "m repo; find /pitrix/repo -type f -name 'pitrix-*tag*_*.deb' 2>/dev/null | sed 's#.*/##' | sort",
  );
  if (req.nodeIds.length > 0) {
    const ids = req.nodeIds.map((n) => validated('NODE_ID', n, 'node id'));
    lines.push(`m nodes; /pitrix/upgrade/exec_nodes.sh -f ${quote(ids.join(','))} ${quote(NODE_SCRIPT)}`);
  }
  lines.push(`m ${END_SECTION}`);
  return {
    script: `${lines.join('\n')}\n`,
    purpose: 'read the tag service configuration, packages and migration logs',
  };
}

export interface NodeObservation {
  packages?: Record<string, string>;
  /** The node's /pitrix/conf/server.yaml (what pitrix-global-conf pushed). */
  pushedConfig?: string;
  error?: string;
}

export interface MigrationLog {
  present: boolean;
  text: string;
}

export interface Observation {
  serverYaml: Record<string, string | undefined>;
  logs: Record<string, { insert?: MigrationLog; update?: MigrationLog }>;
  repoDebs: Array<{ name: string; version: string }>;
  nodes: Record<string, NodeObservation>;
  problems: string[];
}

export function parseObservation(stdout: string, req: ObserveRequest): Observation {
  const { sections, problems } = splitSections(stdout, 'the tag service observation');
  const serverYaml: Observation['serverYaml'] = {};
  for (const z of req.configZones) {
    const b64 = sections.get(`yaml-${z}`)?.trim();
    serverYaml[z] = b64 ? Buffer.from(b64, 'base64').toString('utf8') : undefined;
  }
  const logs: Observation['logs'] = {};
  for (const z of req.migrationZones) {
    logs[z] = {};
    for (const action of ['insert', 'update'] as const) {
      const text = sections.get(`${action}-${z}`) ?? '';
      if (text.startsWith('present')) logs[z][action] = { present: true, text: text.slice('present'.length) };
    }
  }
  const repoDebs: Observation['repoDebs'] = [];
  for (const line of (sections.get('repo') ?? '').split('\n')) {
    const m = /^(.+)_([^_]+)_(all|amd64)\.deb$/.exec(line.trim());
    if (m) repoDebs.push({ name: m[1]!, version: m[2]! });
  }
  const nodes = parseExecNodes(sections.get('nodes') ?? '', req.nodeIds);
  return { serverYaml, logs, repoDebs, nodes, problems };
}

/** Splits `exec_nodes.sh` output (`==== NODE (IP) ====` headers) into each node's packages and config. */
export function parseExecNodes(text: string, nodeIds: readonly string[]): Record<string, NodeObservation> {
  const out: Record<string, NodeObservation> = {};
  const chunks = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of text.split('\n')) {
    const h = /^==== (\S+) \(([^)]*)\) ====$/.exec(line.trim());
    if (h) {
      current = [];
      chunks.set(h[1]!, current);
      continue;
    }
    if (/^exec_nodes: \d+ ok, \d+ failed$/.test(line.trim())) {
      current = undefined;
      continue;
    }
    current?.push(line);
  }
  for (const id of nodeIds) {
    const lines = chunks.get(id);
    if (!lines) {
      out[id] = { error: `exec_nodes.sh printed nothing for ${id}` };
      continue;
    }
    const body = lines.join('\n');
    const p = body.indexOf('@@node-pkgs@@');
    const c = body.indexOf('@@node-conf@@');
    if (p < 0 || c < 0) {
      out[id] = {
        error: `could not read packages and config of ${id} through exec_nodes.sh: ${body.trim().slice(0, 200) || 'no output'}`,
      };
      continue;
    }
    out[id] = {
      packages: parsePackages(body.slice(p + '@@node-pkgs@@'.length, c)).packages,
      pushedConfig: body.slice(c + '@@node-conf@@'.length).replace(/^\n/, ''),
    };
  }
  return out;
}
