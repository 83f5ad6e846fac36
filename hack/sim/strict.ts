/**
 * Strict mode (`--strict`, `startPlatform({ strict: true })`): the installer's scripts behave like
 * real tools asked for something they do not have, for everything the original runbooks
 * (../shared/seeds/, verbatim in seeds-en) do not name. A script the originals never name is not
 * there (`NAME: not found`, exit 127); an option they never show is refused with a usage message
 * (exit 2, as Python's argparse and getopt-based shell tools do); a django_manage.sh subcommand they
 * never show is refused the same way. What the operator relies on beyond the originals then stops
 * with the assumption named, which is what strict runs show.
 */

/** Installer scripts the originals name, with the options they show (`-h` is named for all). */
export const NAMED: Record<string, readonly string[]> = {
  'add-nodes.py': ['-I'],
  'describe-nodes.py': ['-s'],
  'collect-nodes.py': ['-I'],
  'get-collect-nodes-status.py': [],
  'get-collect-nodes-log.py': [],
  'modify-node-attributes.py': ['-i', '-d', '-t', '-S', '-s'],
  'erase_data_disks.sh': ['-i', '-d'],
  'establish_ssh.sh': [],
  'config-qingcloud.py': ['-v', '-s', '-f'],
  'get-config-qingcloud-status.py': [],
  'get-config-qingcloud-log.py': [],
  'gen_node_list.py': [],
  'gen_node_list.sh': [],
  'scale-qingcloud.py': ['-z', '-I'],
  'get-scale-qingcloud-status.py': [],
  'get-scale-qingcloud-log.py': [],
  'scale-qingcloud-zone.py': ['-z', '-I'],
  'get-scale-qingcloud-zone-status.py': [],
  'get-scale-qingcloud-zone-log.py': [],
  'update_hyper_mirror.sh': ['-n'],
  'dump_vbc_route.sh': [],
  'exec_nodes.sh': ['-f'],
  'update.sh': [],
  'build_global_conf.sh': [],
  'scan_all.sh': [],
  'build_pkgs.py': ['-p'],
  'build_pkgs_allinone.py': [],
  'build_pkgs_allinone.sh': [],
  'deploy-qingcloud-component.py': ['-v'],
  'get-deploy-qingcloud-component-status.py': [],
  'get-deploy-qingcloud-component-log.py': [],
  'dump_hosts.py': [],
  'django_manage.sh': [],
  operate_cache_by_re: ['-S', '-A', '-P', '-F'],
  'migrate_for_tag_server.py': ['-z', '-f', '-a'],
  'launch_vms.sh': ['-f'],
  'install_nodes.sh': [],
  'gen_mac.py': [],
};

/**
 * What the operator relies on beyond the originals: each is a row marked ASSUMPTION in
 * docs/platform-interface.md ("Assumptions the simulator's strict mode allows"), with why it is
 * needed and what the operator does when a real installer answers otherwise. Strict mode
 * `'assumed'` refuses everything else, so a run in that mode proves this list complete for what it
 * ran (test/unit/assumptions.test.ts checks every entry has its row).
 */
export interface Assumption {
  script: string;
  /** Options beyond the originals'. */
  options?: readonly string[];
  /** The script itself is not named by the originals. */
  unnamedScript?: true;
  /** django_manage.sh subcommands beyond the originals'. */
  subcommands?: readonly string[];
}

export const ASSUMED: readonly Assumption[] = [
  { script: 'describe-nodes.py', options: ['-f'] },
  { script: 'describe-zones.py', unnamedScript: true, options: ['-f'] },
  { script: 'add-nodes.py', options: ['-z'] },
  { script: 'django_manage.sh', subcommands: ['check_default_password'] },
];

export type StrictMode = boolean | 'assumed';

/** django_manage.sh subcommands the originals show (seed 002). */
export const DJANGO_SUBCOMMANDS = ['areyouok', 'versions', 'migrate', 'init_data', 'rebuild_cache'];

/** Every installer script the simulator has (named or not): strictness applies to these only. */
export function isInstallerScript(name: string): boolean {
  return /\.(py|sh)$/.test(name) || name === 'operate_cache_by_re';
}

export interface StrictVerdict {
  code: number;
  message: string;
}

/** Why a real installer would refuse this invocation, or undefined when the originals name it all. */
export function strictRefusal(
  name: string,
  args: readonly string[],
  mode: StrictMode = true,
): StrictVerdict | undefined {
  if (!isInstallerScript(name)) return undefined;
  const assumed = mode === 'assumed' ? ASSUMED.filter((a) => a.script === name) : [];
  const named = NAMED[name] ?? (assumed.some((a) => a.unnamedScript) ? [] : undefined);
  if (!named) return { code: 127, message: `sh: 1: ${name}: not found` };
  const allowed = new Set([...named, ...assumed.flatMap((a) => a.options ?? []), '-h']);
  // `-ojson` / `--format=json`: the option is what precedes the value.
  const unknown = args.filter((a) => /^-/.test(a) && !allowed.has(a.replace(/=.*$/, '')));
  const usage = `usage: ${name} [-h]${named.map((o) => ` [${o} ...]`).join('')}`;
  if (unknown.length > 0)
    return { code: 2, message: `${usage}\n${name}: error: unrecognized arguments: ${unknown.join(' ')}` };
  const subcommands = [...DJANGO_SUBCOMMANDS, ...assumed.flatMap((a) => a.subcommands ?? [])];
  if (name === 'django_manage.sh' && args[0] && !subcommands.includes(args[0]))
    return {
      code: 2,
      message: `${usage} {${DJANGO_SUBCOMMANDS.join(',')}}\n${name}: error: unknown command '${args[0]}'`,
    };
  return undefined;
}
