/** The reference: a bare `ssh host true` with Debian's OpenSSH client, curve25519, strict host keys. */
import type { BenchHost } from './hosts.js';
import { run } from './proc.js';

export function sshTrueArgv(host: BenchHost, privateKeyPath: string, knownHostsPath: string): string[] {
  return [
    'ssh',
    '-F',
    '/dev/null',
    '-i',
    privateKeyPath,
    '-p',
    String(host.target.port),
    '-o',
    'BatchMode=yes',
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    `UserKnownHostsFile=${knownHostsPath}`,
    '-o',
    'GlobalKnownHostsFile=/dev/null',
    '-o',
    'KexAlgorithms=curve25519-sha256',
    '-o',
    'ControlMaster=no',
    '-o',
    'ControlPath=none',
    '-o',
    'ConnectTimeout=10',
    `root@${host.target.address}`,
    'true',
  ];
}

/** Sequential `ssh host true` over the given hosts; wall time of each, in ms. */
export async function sshTrue(
  hosts: readonly BenchHost[],
  privateKeyPath: string,
  knownHostsPath: string,
): Promise<number[]> {
  const out: number[] = [];
  for (const h of hosts) {
    const r = await run(sshTrueArgv(h, privateKeyPath, knownHostsPath), { timeoutMs: 20_000 });
    if (r.code !== 0) {
      throw new Error(
        `ssh root@${h.target.address} true failed (exit ${r.code ?? r.signal}${r.timedOut ? ', timed out' : ''}): ${r.stderr.trim()}`,
      );
    }
    out.push(r.wallMs);
  }
  return out;
}
