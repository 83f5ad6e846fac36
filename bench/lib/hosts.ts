/**
 * The hosts the benchmark measures against, all on loopback:
 *  - real OpenSSH sshd processes (hack/sshd.ts) on 127.77.51.1 … (the Bench subnets 51–59), and
 *  - in-process ssh2 servers (hack/sim/inprocess.ts) on 127.78.0.x.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type InProcessPlatform, startInProcess } from '../../hack/sim/inprocess.js';
import { type SshdHandle, startSshd } from '../../hack/sshd.js';
import type { HostTarget } from '../../src/ssh/index.js';
import type { Cleanup } from './cleanup.js';
import { mapLimit } from './stats.js';

export const REAL_SUBNET_FIRST = 51;
export const REAL_SUBNET_LAST = 59;
const PER_SUBNET = 250;

/** `127.77.51.1` for i = 0; 250 hosts per subnet, subnets 51–59. */
export function realAddress(i: number): string {
  const subnet = REAL_SUBNET_FIRST + Math.floor(i / PER_SUBNET);
  if (subnet > REAL_SUBNET_LAST) throw new RangeError(`at most ${9 * PER_SUBNET} real sshd hosts`);
  return `127.77.${subnet}.${(i % PER_SUBNET) + 1}`;
}

export interface BenchHost {
  id: string;
  target: HostTarget;
  knownHostsLine: string;
}

/** root's home and login shell from /etc/passwd (sshd runs commands through that shell). */
export function rootAccount(): { home: string; shell: string } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('root:'));
  const f = line?.split(':') ?? [];
  return { home: f[5] || '/root', shell: f[6] || '/bin/sh' };
}

export interface ShellStartup {
  /** What root's shell reads at the start of every SSH command on the bench sshd hosts. */
  mode: 'hidden' | 'kept' | 'none';
  file: string;
  note: string;
}

/**
 * Debian's bash sources ~/.bashrc for every command run over SSH. On this machine root's runs
 * `pyenv init` (~100–250 ms per session); a production node's does not. `hide` bind-mounts an
 * empty file over it inside each bench sshd's own mount namespace (the machine's file is
 * untouched), so both tools see the same, realistic, cheap shell start.
 */
export function shellStartup(dir: string, hide: boolean): { startup: ShellStartup; wrap?: string[] } {
  const { home, shell } = rootAccount();
  const file = join(home, '.bashrc');
  if (!shell.endsWith('bash') || !existsSync(file)) {
    return { startup: { mode: 'none', file, note: `root's shell ${shell} reads no ${file}` } };
  }
  if (!hide) {
    return {
      startup: {
        mode: 'kept',
        file,
        note: `root's ${file} runs on every SSH command, for both tools (--bashrc keep)`,
      },
    };
  }
  const empty = join(dir, 'empty-bashrc');
  writeFileSync(empty, '');
  return {
    startup: {
      mode: 'hidden',
      file,
      note: `root's ${file} (pyenv init on this machine) is hidden from both tools: an empty file is bind-mounted over it in each bench sshd's private mount namespace`,
    },
    wrap: [
      'unshare',
      '--mount',
      '--propagation',
      'private',
      '--',
      'sh',
      '-c',
      'mount --bind "$1" "$2" && shift 2 && exec "$@"',
      'sh',
      empty,
      file,
    ],
  };
}

/** Starts `count` real sshd hosts, a few at a time; each is registered for cleanup as it starts. */
export async function startRealHosts(opts: {
  count: number;
  dir: string;
  publicKey: string;
  wrap: string[] | undefined;
  cleanup: Cleanup;
}): Promise<BenchHost[]> {
  const handles: SshdHandle[] = [];
  opts.cleanup.add('stop real sshd hosts', async () => {
    await mapLimit(handles, 16, (h) => h.stop());
  });
  return mapLimit(
    Array.from({ length: opts.count }, (_, i) => i),
    8,
    async (i) => {
      const address = realAddress(i);
      let h: SshdHandle;
      try {
        h = await startSshd({
          address,
          port: 22,
          dir: join(opts.dir, 'sshd', address),
          authorizedKeys: [opts.publicKey],
          ...(opts.wrap ? { wrap: opts.wrap } : {}),
        });
      } catch (err) {
        throw new Error(
          `could not start sshd on ${address}:22 (is another benchmark or simulator using the Bench subnets 127.77.51–59?): ${(err as Error).message}`,
        );
      }
      handles.push(h);
      return {
        id: `real-${i + 1}`,
        target: { name: address, address, port: 22, user: 'root' },
        knownHostsLine: h.knownHostsLine,
      };
    },
  );
}

/**
 * Starts `count` in-process nodes on 127.78.0.x. The port is not 22 so the bench cannot collide
 * with test/integration/sim-inprocess.test.ts, which serves 127.78.0.x:22.
 */
export async function startInProcessHosts(opts: {
  count: number;
  port: number;
  publicKey: string;
  cleanup: Cleanup;
}): Promise<{ hosts: BenchHost[]; platform: InProcessPlatform }> {
  let platform: InProcessPlatform;
  try {
    platform = await startInProcess({
      count: opts.count,
      authorizedKeys: [opts.publicKey],
      prefix: '127.78',
      port: opts.port,
    });
  } catch (err) {
    throw new Error(
      `could not start the in-process nodes on 127.78.0.x:${opts.port} (another benchmark running? try --inprocess-port): ${(err as Error).message}`,
    );
  }
  opts.cleanup.add('stop in-process nodes', () => platform.stop());
  return {
    platform,
    hosts: platform.hosts.map((h) => ({
      id: h.id,
      target: { name: h.address, address: h.address, port: h.port, user: 'root' },
      knownHostsLine: h.knownHostsLine,
    })),
  };
}

export function knownHostsText(hosts: readonly BenchHost[]): string {
  return hosts.map((h) => `${h.knownHostsLine}\n`).join('');
}
