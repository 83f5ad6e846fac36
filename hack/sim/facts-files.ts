/**
 * Pre-rendered fact files under a host's /.sim/facts, read by the sh fast-path shims. Rewritten
 * in place (same inode) because /proc/meminfo is a bind mount of one of them.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { effectiveFacts, ipAddr, ipLink, lsbDescription, lsbRelease, meminfo, osRelease } from './render.js';
import type { Fault, HostState } from './types.js';

export function writeFacts(root: string, h: HostState, faults: Fault[]): void {
  const f = effectiveFacts(h, faults);
  const dir = join(root, '.sim/facts');
  mkdirSync(dir, { recursive: true });
  const files: Record<string, string> = {
    arch: `${f.arch}\n`,
    kernel: `${f.kernel}\n`,
    nproc: `${f.cpu}\n`,
    lsb: `${lsbDescription(f)}\n`,
    qemu: f.qemu ? `${f.qemu}\n` : '',
    'ip-addr': ipAddr(f),
    'ip-link': ipLink(f),
    meminfo: meminfo(f),
  };
  for (const [name, body] of Object.entries(files)) writeFileSync(join(dir, name), body);
  writeFileSync(join(root, 'etc/os-release'), osRelease(f));
  writeFileSync(join(root, 'etc/lsb-release'), lsbRelease(f));
}
