/**
 * What a Component decision needs from the platform, in one firstbox round trip (read-only): the
 * installer version and node list, every node's supervisor programs, pitrix packages, BOSS V1 nginx
 * site and OS (through `exec_nodes.sh`), the files R3 edits, the repository, the deployment job
 * and, for BOSS, `django_manage.sh areyouok | versions` on the first boss node of
 * /pitrix/conf/nodes/boss (seed 002 lines 167–179: "on any one boss node"; lines 193–195 take
 * `${nodes[0]}` of that file) plus the default-password probe (an ASSUMPTION: the runbook names
 * the account and its password, no way to check them). Parsing is pure.
 *
 * The deployment's status comes from `get-deploy-qingcloud-component-status.py` exactly as seed
 * 002 line 102 names it, without arguments. The runbook does not show what it prints: its answer
 * is parsed tolerantly for status.progress only (display), and nothing is shown when it is not
 * recognised. No decision rests on it: whether the deployment runs or ended is the job guard's.
 */
import { parseInstallerVersion } from '../../facts/installer.js';
import { parseDescribeNodes, parseDescribeZones } from '../../facts/nodes.js';
import { parseOs } from '../../facts/os.js';
import { parsePackages } from '../../facts/packages.js';
import { END_SECTION, MARKER_FUNCTION, splitSections } from '../../facts/sections.js';
import { parseSupervisorStatus } from '../../facts/supervisor.js';
import type { PlatformNode, PlatformZone, ServiceStatus } from '../../facts/types.js';
import { sh, validated } from '../../ssh/command.js';
import type { ShellCommand } from '../../ssh/types.js';
import { noAnswer, parseExecNodes } from '../execnodes.js';

export const SERVER_YAML_DIR = '/pitrix/conf/variables/global';
export const VM_TEMPLATE = '/pitrix/config/templates/vm_variables.template.yaml';
export const BOSS2_DIR = '/pitrix/conf/variables/boss2';
export const DJANGO_MANAGE = '/pitrix/bin/boss2-manager/django_manage.sh';
export const REPO_DIRS = ['/pitrix/repo/web/', '/pitrix/repo/indep/boss2/'] as const;
export const boss2YamlPath = (zoneId: string) => `${BOSS2_DIR}/boss2.yaml.${zoneId}`;
export const LOCAL_CONFIG = `${BOSS2_DIR}/local_config.yaml`;
export const zoneVariablesPath = (zoneId: string) => `/pitrix/config/variables.${zoneId}.yaml`;
export const vmVariablesPath = (zoneId: string) => `/pitrix/config/vm_variables.${zoneId}.yaml`;

/** What each node answers (through exec_nodes.sh): one framed block per node. */
const NODE_SCRIPT = [
  'echo @@sup; supervisorctl status 2>&1',
  "echo @@pkg; dpkg-query -W -f='${Package} ${Version} ${Status}\\n' 'pitrix-*' 2>/dev/null",
  'echo @@nginx; ls -1 /etc/nginx/sites-enabled/boss.conf /etc/nginx/sites-available/boss.conf 2>/dev/null',
  'echo @@os; lsb_release -ds 2>/dev/null',
  'true',
].join('; ');

// A constant program: file names arrive as argv; prints {path: text} for the ones that exist.
const READ_FILES_PY = [
  'import json, os, sys',
  'out = {}',
  'for p in sys.argv[1:]:',
  '    if os.path.isfile(p):',
  '        with open(p) as f:',
  '            out[p] = f.read()',
  'print(json.dumps(out))',
].join('\n');

export function observeCommand(zoneId: string, component: string): ShellCommand {
  const zone = validated('ZONE_ID', zoneId, 'zone.spec.zoneId');
  const files = [VM_TEMPLATE, boss2YamlPath(zone), LOCAL_CONFIG, zoneVariablesPath(zone)];
  const parts: ShellCommand[] = [
    { script: `export LC_ALL=C\n${MARKER_FUNCTION}`, purpose: 'framing' },
    sh('installer version')`m version; cat /pitrix/VERSION`,
    sh('node list')`m nodes; /pitrix/cli/describe-nodes.py -s all -f json`,
    sh('zone list')`m zones; [ -x /pitrix/cli/describe-zones.py ] && /pitrix/cli/describe-zones.py -f json`,
    sh('nodes')`m exec; /pitrix/upgrade/exec_nodes.sh -f all ${NODE_SCRIPT} 2>&1`,
    sh('boss.yaml files')`m bossyaml; ls -1 ${SERVER_YAML_DIR} 2>/dev/null | grep '^boss\\.yaml'`,
    sh(
      'files',
    )`m files; python3 -c ${READ_FILES_PY} ${SERVER_YAML_DIR}/server.yaml.* ${files[0]!} ${files[1]!} ${files[2]!} ${files[3]!}`,
    sh('repository')`m repo; ls -1 ${REPO_DIRS[0]} ${REPO_DIRS[1]} 2>/dev/null`,
    // Display only (status.progress): its stderr and exit code are not judged.
    sh('deployment status')`m job; /pitrix/cli/get-deploy-qingcloud-component-status.py 2>/dev/null`,
  ];
  if (component === 'boss') {
    parts.push(
      sh('boss health')`m health; ${onFirstBoss('areyouok', true)}`,
      sh('boss versions')`m versions; ${onFirstBoss('versions', true)}`,
      sh('boss password')`m password; ${onFirstBoss('check_default_password', true)}`,
    );
  }
  parts.push(sh('end')`m ${END_SECTION}`);
  return { script: `${parts.map((p) => p.script).join('\n')}\n`, purpose: `observe component ${component}` };
}

/** Where R3 lists the boss nodes: a shell file defining the array `nodes` (seed 002 line 193). */
export const BOSS_NODES_FILE = '/pitrix/conf/nodes/boss';

/**
 * `django_manage.sh SUB` on the first boss node, as seed 002 lines 193–195 pick it
 * (`. /pitrix/conf/nodes/boss; ssh ${nodes[0]} "…"`), reached through exec_nodes.sh as every other
 * node command (the firstbox's ssh to nodes is exec_nodes.sh's business). With `withExit`, the
 * node prints `exit=N` last so the answer keeps django_manage.sh's own exit code.
 */
export function onFirstBoss(sub: string, withExit = false): ShellCommand {
  const inner = `${DJANGO_MANAGE} ${sub}${withExit ? ' 2>&1; echo "exit=$?"' : ''}`;
  return sh(
    `django_manage.sh ${sub} on the first boss node`,
  )`. ${BOSS_NODES_FILE} && test -n "\${nodes[0]}" && /pitrix/upgrade/exec_nodes.sh "\${nodes[0]}" ${inner}`;
}

export interface NodeObservation {
  nodeId: string;
  reached: boolean;
  /** Programs, or null when supervisor is absent or did not answer. */
  programs: ServiceStatus[] | null;
  packages: Record<string, string>;
  /** BOSS V1 nginx site files found (proxies). */
  nginxBossSite: string[];
  /** `lsb_release -ds` as printed, and the version parsed from it. */
  osDescription?: string;
  osVersion?: string;
  error?: string;
}

/** What the status tool said about the deployment, for display: every field may be missing. */
export interface JobStatus {
  jobId?: string;
  status: string;
  progress?: number;
  step?: string;
}

export interface CommandAnswer {
  exitCode: number;
  output: string;
}

export interface ComponentFacts {
  installerVersion: string;
  nodes: PlatformNode[];
  zones?: PlatformZone[];
  /** By node id. */
  nodeObs: Record<string, NodeObservation>;
  bossYamlFiles: string[];
  /** Files read, by absolute path (only the ones that exist). */
  files: Record<string, string>;
  /** .deb file names in the BOSS repository directories. */
  repoDebs: string[];
  job?: JobStatus;
  health?: CommandAnswer;
  versions?: CommandAnswer;
  password?: CommandAnswer;
  problems: string[];
}

function parseNodeBlock(nodeId: string, text: string): NodeObservation {
  if (!text.includes('@@sup')) {
    return {
      nodeId,
      reached: false,
      programs: null,
      packages: {},
      nginxBossSite: [],
      error: text.trim().split('\n').slice(-1)[0] || 'no answer',
    };
  }
  const parts: Record<string, string> = {};
  let key = '';
  for (const line of text.split('\n')) {
    const m = /^@@(sup|pkg|nginx|os)$/.exec(line.trim());
    if (m) {
      key = m[1]!;
      parts[key] = '';
    } else if (key) parts[key] += `${line}\n`;
  }
  const sup = parseSupervisorStatus(parts.sup ?? '');
  const obs: NodeObservation = {
    nodeId,
    reached: true,
    programs: sup.services,
    packages: parsePackages(parts.pkg ?? '').packages,
    nginxBossSite: (parts.nginx ?? '')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.endsWith('boss.conf')),
  };
  const os = (parts.os ?? '').trim();
  if (os) {
    obs.osDescription = os;
    try {
      obs.osVersion = parseOs(os, null).os.version;
    } catch {
      // Left undefined: the prerequisite reports the OS as unknown.
    }
  }
  return obs;
}

/**
 * A django_manage.sh answer relayed by exec_nodes.sh: its framing lines dropped, undefined (not
 * known) when the node never printed `exit=N` (no boss nodes file, node unreachable).
 */
function bossAnswer(text: string | undefined): CommandAnswer | undefined {
  if (text === undefined) return undefined;
  const lines = text.split('\n').filter((l) => !/^(==== |exec_nodes: )/.test(l));
  while (lines.length && !lines.at(-1)!.trim()) lines.pop();
  if (!/^exit=\d+$/.test(lines.at(-1)?.trim() ?? '')) return undefined;
  return answer(lines.join('\n'));
}

function answer(text: string | undefined): CommandAnswer | undefined {
  if (text === undefined) return undefined;
  const lines = text.split('\n');
  const last = lines.at(-1) ?? '';
  const m = /^exit=(\d+)$/.exec(last.trim());
  return {
    exitCode: m ? Number(m[1]) : 1,
    output: (m ? lines.slice(0, -1) : lines).join('\n').trim(),
  };
}

/**
 * The status tool's answer, read tolerantly (display only; ASSUMPTION, docs/platform-interface.md):
 * the last line that is a JSON object with a string `status`; `job_id`, `progress` (0-100) and
 * `step` when present. Anything else (a table, a usage message, nothing) → undefined: not shown.
 */
export function parseJobStatus(text: string): JobStatus | undefined {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('{'));
  for (const line of lines.reverse()) {
    let o: unknown;
    try {
      o = JSON.parse(line);
    } catch {
      continue;
    }
    if (!o || typeof o !== 'object' || Array.isArray(o)) continue;
    const r = o as Record<string, unknown>;
    if (typeof r.status !== 'string' || !r.status.trim()) continue;
    const progress = typeof r.progress === 'number' && Number.isFinite(r.progress) ? r.progress : undefined;
    return {
      status: r.status.trim().slice(0, 32),
      ...(typeof r.job_id === 'string' && r.job_id ? { jobId: r.job_id.slice(0, 128) } : {}),
      ...(progress !== undefined ? { progress: Math.round(Math.max(0, Math.min(100, progress))) } : {}),
      ...(typeof r.step === 'string' ? { step: r.step } : {}),
    };
  }
  return undefined;
}

/** Parses the observation; throws FactsParseError when the version or node list is unusable. */
export function parseObservation(stdout: string): ComponentFacts {
  const { sections, problems } = splitSections(stdout, 'the component observation');
  const installerVersion = parseInstallerVersion(sections.get('version') ?? '');
  const nodes = parseDescribeNodes(sections.get('nodes') ?? '');
  const facts: ComponentFacts = {
    installerVersion,
    nodes,
    nodeObs: {},
    bossYamlFiles: [],
    files: {},
    repoDebs: [],
    problems: [...problems],
  };
  const zonesText = sections.get('zones');
  if (zonesText) {
    try {
      facts.zones = parseDescribeZones(zonesText);
    } catch (err) {
      facts.problems.push((err as Error).message);
    }
  }
  const blocks = parseExecNodes(sections.get('exec') ?? '');
  for (const n of nodes) {
    const b = blocks.byId.get(n.nodeId);
    facts.nodeObs[n.nodeId] = b
      ? parseNodeBlock(n.nodeId, b.text)
      : {
          nodeId: n.nodeId,
          reached: false,
          programs: null,
          packages: {},
          nginxBossSite: [],
          error: noAnswer(blocks, n.nodeId),
        };
  }
  facts.bossYamlFiles = (sections.get('bossyaml') ?? '')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('boss.yaml'));
  const filesText = sections.get('files');
  if (filesText) {
    try {
      const line = filesText.split('\n').find((l) => l.trim().startsWith('{'));
      facts.files = line ? (JSON.parse(line) as Record<string, string>) : {};
    } catch (err) {
      facts.problems.push(`files: unreadable answer (${(err as Error).message})`);
    }
  }
  facts.repoDebs = (sections.get('repo') ?? '')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^[a-z0-9][a-z0-9+.-]*_[^_\s]+_(all|amd64)\.deb$/.test(l));
  const job = parseJobStatus(sections.get('job') ?? '');
  if (job) facts.job = job;
  const health = bossAnswer(sections.get('health'));
  if (health) facts.health = health;
  const versions = bossAnswer(sections.get('versions'));
  if (versions) facts.versions = versions;
  const password = bossAnswer(sections.get('password'));
  if (password) facts.password = password;
  return facts;
}

/** `django_manage.sh versions`: `PACKAGE VERSION` per line (`none` when not installed). */
export function parseBossVersions(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([a-z0-9][a-z0-9+.-]+)\s+(\S+)$/.exec(line.trim());
    if (m && m[2] !== 'none') out[m[1]!] = m[2]!;
  }
  return out;
}

/** `.deb` names in the repository as {package: [versions]}. */
export function repoVersions(debs: readonly string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const d of debs) {
    const m = /^(.+)_([^_]+)_(all|amd64)\.deb$/.exec(d);
    if (m) out[m[1]!] = [...(out[m[1]!] ?? []), m[2]!];
  }
  return out;
}
