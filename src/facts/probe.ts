/**
 * The node probe: one script, one round trip, every fact (docs/platform-interface.md, "Node
 * probe"). Collection cost is then dominated by the SSH handshake, not by command count.
 */
import type { ShellCommand } from '../ssh/types.js';
import { rootDisk } from './disks.js';
import { excerpt, FactsParseError } from './errors.js';
import { parseIpAddr } from './ip.js';
import { parseLsblk } from './lsblk.js';
import { parseMeminfo } from './meminfo.js';
import { parseOs } from './os.js';
import { parsePackages } from './packages.js';
import { parseQemuVersion } from './qemu.js';
import { END_SECTION, MARKER_FUNCTION, splitSections } from './sections.js';
import { parseSupervisorStatus } from './supervisor.js';
import type {
  BlockDevice,
  NetworkInterface,
  NodeFacts,
  ServiceStatus,
  SupervisorAvailability,
} from './types.js';

const LSBLK_COLUMNS = 'NAME,TYPE,SIZE,ROTA,RM,TRAN,MODEL,MOUNTPOINT';

/**
 * Plain single-quoted strings, not template literals: the script contains `${Package}` for
 * dpkg-query. Every command's stderr is dropped so a missing tool yields an empty section; the
 * supervisor section alone keeps it because its error text says *why* there are no services.
 */
const PROBE_LINES = [
  // Stable, untranslated output whatever the node's locale; tools in sbin for non-root users.
  'export LC_ALL=C',
  'PATH="$PATH:/sbin:/usr/sbin:/usr/local/sbin:/usr/local/bin"; export PATH',
  MARKER_FUNCTION,
  'm arch; uname -m 2>/dev/null',
  'm kernel; uname -r 2>/dev/null',
  'm cpu; nproc 2>/dev/null || grep -c ^processor /proc/cpuinfo 2>/dev/null',
  'm meminfo; cat /proc/meminfo 2>/dev/null',
  'm lsb; lsb_release -ds 2>/dev/null',
  'm osrelease; cat /etc/os-release 2>/dev/null',
  // JSON needs util-linux 2.27 (16.04+); 14.04 gets pairs; the last form is for an lsblk without TRAN.
  `m lsblk; lsblk -J -b -o ${LSBLK_COLUMNS} 2>/dev/null || lsblk -P -b -o ${LSBLK_COLUMNS} 2>/dev/null || lsblk -P -b -o ${LSBLK_COLUMNS.replace(',TRAN', '')} 2>/dev/null`,
  'm ip; ip -o addr show 2>/dev/null',
  'm qemu; kvm --version 2>/dev/null || qemu-system-x86_64 --version 2>/dev/null',
  "m packages; dpkg-query -W -f='${Package} ${Version} ${Status}\\n' 'pitrix-*' 2>/dev/null",
  // A hung supervisord must not hang the whole probe: bound it when coreutils' timeout exists.
  'm supervisor; if command -v supervisorctl >/dev/null 2>&1; then' +
    " t=''; command -v timeout >/dev/null 2>&1 && t='timeout 15';" +
    ' $t supervisorctl status 2>&1; [ $? -eq 124 ] && echo "supervisorctl: timed out after 15s";' +
    " else echo 'supervisorctl: command not found'; fi",
  `m ${END_SECTION}`,
];

export const PROBE_SCRIPT = `${PROBE_LINES.join('\n')}\n`;

export const PROBE_SECTIONS = [
  'arch',
  'kernel',
  'cpu',
  'meminfo',
  'lsb',
  'osrelease',
  'lsblk',
  'ip',
  'qemu',
  'packages',
  'supervisor',
] as const;

/** A fixed script with no user input, so it needs no quoting by the command builder. */
export const PROBE_COMMAND: ShellCommand = { script: PROBE_SCRIPT, purpose: 'collect node facts' };

export interface ParseOptions {
  /** ISO time to stamp the facts with; defaults to now. */
  collectedAt?: string;
}

function required(sections: Map<string, string>, name: string): string {
  const text = sections.get(name);
  if (text === undefined) throw new FactsParseError(name, 'section missing from the probe output');
  if (text === '') throw new FactsParseError(name, 'the command printed nothing');
  return text;
}

function singleToken(sections: Map<string, string>, name: string, pattern: RegExp): string {
  const text = required(sections, name).trim();
  if (!pattern.test(text)) throw new FactsParseError(name, `unexpected value ${excerpt(text)}`);
  return text;
}

/** Runs an optional section's parser; a failure becomes a problem instead of failing the node. */
function optional<T>(
  problems: string[],
  name: string,
  fallback: T,
  parse: (text: string) => T,
  text?: string,
): T {
  if (text === undefined) {
    problems.push(`${name}: section missing from the probe output`);
    return fallback;
  }
  try {
    return parse(text);
  } catch (err) {
    if (!(err instanceof FactsParseError)) throw err;
    problems.push(err.message);
    return fallback;
  }
}

/**
 * Turns the probe's stdout into facts. Throws FactsParseError (naming the section) when the output
 * is empty, not framed, cut off, or lacks a fact every node must have (arch, kernel, cpu, memory,
 * OS). Trouble with disks, NICs, QEMU, packages or services goes to `problems`.
 */
export function parseProbeOutput(stdout: string, options: ParseOptions = {}): NodeFacts {
  const { sections, problems } = splitSections(stdout, 'the node probe');

  const arch = singleToken(sections, 'arch', /^[A-Za-z0-9_-]{1,32}$/);
  const kernel = singleToken(sections, 'kernel', /^[A-Za-z0-9._+~-]{1,128}$/);
  const cpu = singleToken(sections, 'cpu', /^\d{1,5}$/);
  const cpuCores = Number(cpu);
  if (cpuCores < 1) throw new FactsParseError('cpu', `unexpected value ${excerpt(cpu)}`);
  const memoryMiB = parseMeminfo(required(sections, 'meminfo'));
  const osResult = parseOs(sections.get('lsb') ?? null, sections.get('osrelease') ?? null);
  problems.push(...osResult.problems);

  const lsblk = sections.get('lsblk');
  const disks = optional<BlockDevice[]>(
    problems,
    'lsblk',
    [],
    (t) => {
      const r = parseLsblk(t);
      problems.push(...r.problems);
      return r.devices;
    },
    lsblk,
  );
  if (disks.length > 0 && rootDisk(disks) === null) {
    problems.push(
      'lsblk: no device is mounted at /, so the root disk is unknown and no disk is excluded from data disks',
    );
  }

  const nics = optional<NetworkInterface[]>(
    problems,
    'ip',
    [],
    (t) => {
      if (t === '') throw new FactsParseError('ip', 'ip -o addr show printed nothing');
      const r = parseIpAddr(t);
      problems.push(...r.problems);
      return r.nics;
    },
    sections.get('ip'),
  );

  const qemu = optional(problems, 'qemu', null, parseQemuVersion, sections.get('qemu'));

  const packages = optional<Record<string, string>>(
    problems,
    'packages',
    {},
    (t) => {
      const r = parsePackages(t);
      problems.push(...r.problems);
      return r.packages;
    },
    sections.get('packages'),
  );

  let services: ServiceStatus[] | null = null;
  let supervisor: SupervisorAvailability = 'unreachable';
  const sup = sections.get('supervisor');
  if (sup === undefined) {
    problems.push('supervisor: section missing from the probe output');
  } else {
    const r = parseSupervisorStatus(sup);
    services = r.services;
    supervisor = r.availability;
    problems.push(...r.problems);
  }

  return {
    cpuCores,
    arch,
    memoryMiB,
    os: osResult.os,
    kernel,
    disks,
    nics,
    qemuVersion: qemu?.version ?? null,
    qemuBuild: qemu?.build ?? null,
    packages,
    services,
    supervisor,
    collectedAt: options.collectedAt ?? new Date().toISOString(),
    problems,
  };
}
