/**
 * Ansible's side: Debian's `ansible` package (installed with apt-get when missing), an inventory
 * and known_hosts the bench generates, host key checking on (never blind-accept), and
 * `ansible all -m setup -a gather_subset=min -f FORKS` over real sshd. A callback plugin
 * (bench/ansible/callback_plugins) records each host's start/end and status.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchHost } from './hosts.js';
import { run } from './proc.js';
import { mapLimit } from './stats.js';

const CALLBACK_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'ansible', 'callback_plugins');

/** Installs Debian's ansible once; a second call (or an installed ansible) does nothing. */
export async function ensureAnsible(
  log: (line: string) => void,
): Promise<{ version: string; installed: boolean }> {
  const version = async () => {
    try {
      const r = await run(['ansible', '--version'], { timeoutMs: 60_000 });
      return r.code === 0 ? (r.stdout.split('\n')[0] ?? '').trim() : undefined;
    } catch {
      return undefined; // ENOENT: not installed
    }
  };
  const before = await version();
  if (before) {
    log(`ansible already installed (${before}); not reinstalling`);
    return { version: before, installed: false };
  }
  log("ansible not found: installing Debian's ansible package with apt-get (one time, ~1 min)");
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const steps = [
    ['apt-get', 'update', '-qq'],
    // Another apt run on the machine holds the dpkg lock for a while: wait for it, boundedly.
    ['apt-get', 'install', '-y', '-q', '--no-install-recommends', '-o', 'DPkg::Lock::Timeout=600', 'ansible'],
  ];
  for (const argv of steps) {
    const r = await run(argv, { env, timeoutMs: 15 * 60_000 });
    if (r.code !== 0) {
      throw new Error(
        `${argv.join(' ')} failed (exit ${r.code ?? r.signal}); install it by hand (apt-get install ansible) or run with --no-ansible:\n${r.stderr.slice(-2000)}`,
      );
    }
  }
  const after = await version();
  if (!after) throw new Error('apt-get installed ansible, but `ansible --version` still fails');
  log(`installed ${after}`);
  return { version: after, installed: true };
}

export interface AnsibleSetup {
  dir: string;
  inventory: string;
  env: NodeJS.ProcessEnv;
  controlPathDir: string;
  /** What the bench configured, for the report. */
  settings: Record<string, string | boolean>;
}

export async function prepareAnsible(opts: {
  dir: string;
  hosts: readonly BenchHost[];
  privateKeyPath: string;
  knownHostsPath: string;
  forks: number;
}): Promise<AnsibleSetup> {
  const { dir } = opts;
  const controlPathDir = join(dir, 'cp');
  for (const d of [dir, controlPathDir, join(dir, 'local-tmp'), join(dir, 'home')]) {
    await mkdir(d, { recursive: true });
  }
  const inventory = join(dir, 'inventory.ini');
  writeFileSync(
    inventory,
    [
      '[bench]',
      ...opts.hosts.map((h) => `${h.target.address} ansible_port=${h.target.port}`),
      '',
      '[bench:vars]',
      'ansible_user=root',
      `ansible_ssh_private_key_file=${opts.privateKeyPath}`,
      // Skips interpreter discovery (one SSH round trip per host): in Ansible's favour.
      'ansible_python_interpreter=/usr/bin/python3',
      '',
    ].join('\n'),
  );
  // Ansible's default ssh_args, plus the known_hosts we generated and strict checking.
  const sshArgs = [
    '-C -o ControlMaster=auto -o ControlPersist=60s',
    `-o UserKnownHostsFile=${opts.knownHostsPath}`,
    '-o GlobalKnownHostsFile=/dev/null',
    '-o StrictHostKeyChecking=yes',
  ].join(' ');
  const cfg = join(dir, 'ansible.cfg');
  writeFileSync(
    cfg,
    [
      '[defaults]',
      `inventory = ${inventory}`,
      `forks = ${opts.forks}`,
      'host_key_checking = True',
      'gathering = explicit',
      'retry_files_enabled = False',
      'bin_ansible_callbacks = True',
      `callback_plugins = ${CALLBACK_DIR}`,
      'callbacks_enabled = bench_timing',
      `local_tmp = ${join(dir, 'local-tmp')}`,
      `remote_tmp = ${join(dir, 'remote-tmp')}`,
      'interpreter_python = /usr/bin/python3',
      'nocows = True',
      '',
      '[ssh_connection]',
      // Ansible's usual speed-up: the module goes over the exec's stdin, no sftp/chmod/rm round trips.
      'pipelining = True',
      `ssh_args = ${sshArgs}`,
      `control_path_dir = ${controlPathDir}`,
      '',
    ].join('\n'),
  );
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ANSIBLE_CONFIG: cfg,
    ANSIBLE_HOME: join(dir, 'home'),
    ANSIBLE_HOST_KEY_CHECKING: 'True',
    ANSIBLE_NOCOLOR: '1',
    ANSIBLE_FORCE_COLOR: '0',
    PYTHONDONTWRITEBYTECODE: '1',
  };
  // A stray ANSIBLE_* in the caller's environment must not change what is measured.
  for (const k of Object.keys(env)) {
    if (
      k.startsWith('ANSIBLE_') &&
      !(
        k in
        {
          ANSIBLE_CONFIG: 1,
          ANSIBLE_HOME: 1,
          ANSIBLE_HOST_KEY_CHECKING: 1,
          ANSIBLE_NOCOLOR: 1,
          ANSIBLE_FORCE_COLOR: 1,
        }
      )
    )
      delete env[k];
  }
  return {
    dir,
    inventory,
    env,
    controlPathDir,
    settings: {
      module: 'setup',
      args: 'gather_subset=min',
      forks: String(opts.forks),
      host_key_checking: true,
      known_hosts: 'generated by the bench (StrictHostKeyChecking=yes)',
      pipelining: true,
      ssh_args: sshArgs,
      python_interpreter: '/usr/bin/python3 (discovery skipped)',
    },
  };
}

export interface AnsibleHostRow {
  host: string;
  status: 'ok' | 'failed' | 'unreachable';
  start: number | null;
  end: number;
  distribution: string | null;
  hostname: string | null;
  msg: string | null;
}

export interface AnsibleRun {
  wallMs: number;
  exitCode: number | null;
  rows: AnsibleHostRow[];
  /** User+system CPU of ansible and every process it waited for (forks, ssh clients). */
  controllerCpuMs: number | undefined;
  stderr: string;
}

/** `ansible PATTERN -m setup -a gather_subset=min -f FORKS`, timed; ControlMasters closed after. */
export async function runAnsible(
  setup: AnsibleSetup,
  pattern: string,
  forks: number,
  tag: string,
  timeoutMs: number,
): Promise<AnsibleRun> {
  const timing = join(setup.dir, `timing-${tag}.jsonl`);
  const times = join(setup.dir, `times-${tag}.txt`);
  writeFileSync(timing, '');
  const argv = ['ansible', pattern, '-m', 'setup', '-a', 'gather_subset=min', '-f', String(forks)];
  // bash's `times` reports the CPU of the children it waited for: ansible and its whole tree.
  const r = await run(
    ['bash', '-c', 'ansible "$@"; rc=$?; times > "$PITRIX_BENCH_TIMES"; exit $rc', 'bash', ...argv.slice(1)],
    {
      env: { ...setup.env, PITRIX_BENCH_TIMING: timing, PITRIX_BENCH_TIMES: times },
      timeoutMs,
      stdoutFile: join(setup.dir, `stdout-${tag}.txt`),
    },
  );
  await closeControlMasters(setup.controlPathDir);
  const rows = readFileSync(timing, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as AnsibleHostRow);
  let controllerCpuMs: number | undefined;
  try {
    controllerCpuMs = parseTimes(readFileSync(times, 'utf8'));
  } catch {
    controllerCpuMs = undefined;
  }
  if (r.timedOut) throw new Error(`ansible ${pattern} did not finish within ${timeoutMs} ms (killed)`);
  return { wallMs: r.wallMs, exitCode: r.code, rows, controllerCpuMs, stderr: r.stderr };
}

/** bash `times`: line 1 the shell's own user/sys, line 2 its children's: `0m12.345s 0m1.234s`. */
export function parseTimes(text: string): number {
  const line = text.trim().split('\n')[1];
  const m = line?.match(/^(\d+)m([\d.]+)s\s+(\d+)m([\d.]+)s$/);
  if (!m) throw new Error(`unexpected times output: ${JSON.stringify(text)}`);
  return (Number(m[1]) * 60 + Number(m[2]) + Number(m[3]) * 60 + Number(m[4])) * 1000;
}

/** Ends the ControlPersist masters so the next run pays its handshakes again and nothing lingers. */
export async function closeControlMasters(dir: string): Promise<void> {
  let sockets: string[];
  try {
    sockets = readdirSync(dir);
  } catch {
    return;
  }
  await mapLimit(sockets, 8, (s) =>
    run(
      ['ssh', '-F', '/dev/null', '-o', `ControlPath=${join(dir, s)}`, '-O', 'exit', 'bench-control-master'],
      {
        timeoutMs: 5000,
      },
    ).catch(() => undefined),
  );
}
