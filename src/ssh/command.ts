/**
 * The only way to build text for a remote shell. Every argument is single-quoted for a POSIX shell
 * (sh, dash, bash), so its bytes reach the program as one argv entry whatever they contain;
 * values that come from resources are additionally checked against the strict patterns of
 * `src/api/patterns.ts` before any connection is opened (`validated`).
 */
import { type PatternName, patternRegExp, patterns } from '../api/patterns.js';
import { ValidationError } from './errors.js';
import type { ShellCommand } from './types.js';

/** Characters that are never special to a POSIX shell in an unquoted word. `=` and `~` are not here. */
const BARE_WORD = /^[A-Za-z0-9_@%+:,./-]+$/;
/** Reserved words change meaning in command position, so they are always quoted. */
const RESERVED = new Set([
  'if',
  'then',
  'else',
  'elif',
  'fi',
  'do',
  'done',
  'case',
  'esac',
  'while',
  'until',
  'for',
  'in',
  'function',
  'select',
  'time',
  'coproc',
]);

/**
 * Quotes one argument for a POSIX shell. Plain words stay readable (`/pitrix/bin/x`); anything
 * else is wrapped in single quotes, inside which no character is special; a single quote itself
 * becomes `'\''`. NUL cannot be carried by a C string (argv), so it is refused, not dropped.
 */
export function quote(arg: string): string {
  if (arg.includes('\0')) {
    throw new ValidationError(
      'argument',
      arg,
      'a shell argument',
      'remove the NUL byte (argv cannot carry it)',
    );
  }
  if (BARE_WORD.test(arg) && !RESERVED.has(arg)) return arg;
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** A simple command from an argument vector: `shell(['systemctl', 'restart', unit], 'restart X')`. */
export function shell(argv: readonly string[], purpose: string): ShellCommand {
  if (argv.length === 0) throw new Error(`shell(): empty argv for "${purpose}"`);
  return simple(argv.map(quote).join(' '), purpose);
}

// Simple commands can take prefix assignments and need no grouping; the flag stays off the
// public interface so callers cannot forge it.
const simpleScripts = new WeakSet<ShellCommand>();
function simple(script: string, purpose: string): ShellCommand {
  const cmd = Object.freeze({ script, purpose });
  simpleScripts.add(cmd);
  return cmd;
}
function compound(script: string, purpose: string): ShellCommand {
  return Object.freeze({ script, purpose });
}
/** Wraps a compound command in a brace group so operator precedence cannot regroup it. */
function operand(cmd: ShellCommand): string {
  return simpleScripts.has(cmd) ? cmd.script : `{ ${cmd.script}; }`;
}

function joined(op: string, cmds: readonly ShellCommand[], purpose: string | undefined): ShellCommand {
  if (cmds.length === 0) throw new Error(`cannot compose zero commands with ${op.trim()}`);
  if (cmds.length === 1) return cmds[0]!;
  return compound(cmds.map(operand).join(op), purpose ?? cmds.map((c) => c.purpose).join(', then '));
}

/** `a | b | c` (the pipeline's status is the last command's, as in POSIX sh). */
export function pipe(cmds: readonly ShellCommand[], purpose?: string): ShellCommand {
  return joined(' | ', cmds, purpose);
}
/** `a && b && c`: stops at the first failure. */
export function and(cmds: readonly ShellCommand[], purpose?: string): ShellCommand {
  return joined(' && ', cmds, purpose);
}
/** `a || b`: b runs only if a failed. */
export function or(cmds: readonly ShellCommand[], purpose?: string): ShellCommand {
  return joined(' || ', cmds, purpose);
}
/** `a; b; c`: all run regardless (use for batched probes whose failures are parsed, not fatal). */
export function seq(cmds: readonly ShellCommand[], purpose?: string): ShellCommand {
  return joined('; ', cmds, purpose);
}

/** `cd DIR && cmd`, in a subshell so the directory change does not leak into composed siblings. */
export function inDir(dir: string, cmd: ShellCommand, purpose?: string): ShellCommand {
  return compound(`(cd -- ${quote(dir)} && ${operand(cmd)})`, purpose ?? cmd.purpose);
}

export interface RedirectOptions {
  /** Which descriptor to redirect: 1 (stdout, default) or 2 (stderr); 0 reads the file as stdin. */
  fd?: 0 | 1 | 2;
  /** `>>` instead of `>`. */
  append?: boolean;
  /** Also send stderr where stdout goes (`2>&1`), for fd 1. */
  mergeStderr?: boolean;
}

/** `cmd > FILE`, `cmd >> FILE`, `cmd 2> FILE`, `cmd < FILE`. */
export function redirect(cmd: ShellCommand, file: string, opts: RedirectOptions = {}): ShellCommand {
  const fd = opts.fd ?? 1;
  const op = fd === 0 ? '<' : `${fd === 2 ? '2' : ''}${opts.append ? '>>' : '>'}`;
  const merge = fd === 1 && opts.mergeStderr ? ' 2>&1' : '';
  return compound(`${operand(cmd)} ${op} ${quote(file)}${merge}`, cmd.purpose);
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Runs `cmd` with extra environment variables (`K='v' cmd`, or exported in a subshell for compounds). */
export function withEnv(env: Readonly<Record<string, string>>, cmd: ShellCommand): ShellCommand {
  const entries = Object.entries(env);
  for (const [k] of entries) {
    if (!ENV_NAME.test(k)) {
      throw new ValidationError(
        'environment variable name',
        k,
        'a shell variable name',
        'use [A-Za-z_][A-Za-z0-9_]*',
      );
    }
  }
  if (entries.length === 0) return cmd;
  const assigns = entries.map(([k, v]) => `${k}=${quote(v)}`).join(' ');
  if (simpleScripts.has(cmd)) return simple(`${assigns} ${cmd.script}`, cmd.purpose);
  return compound(`(export ${assigns} && ${operand(cmd)})`, cmd.purpose);
}

/**
 * A tagged template for constant shell text with quoted holes:
 * `` sh('count tags')`grep -c ${pattern} ${file} || true` ``. The literal parts are source code
 * written by us; every `${value}` is quoted (strings) or grouped (ShellCommands).
 */
export function sh(purpose: string) {
  return (literals: TemplateStringsArray, ...values: ReadonlyArray<string | ShellCommand>): ShellCommand => {
    let script = literals[0] ?? '';
    values.forEach((v, i) => {
      script += (typeof v === 'string' ? quote(v) : operand(v)) + (literals[i + 1] ?? '');
    });
    return compound(script, purpose);
  };
}

/**
 * How each pattern is described to a human, and how to fix a value that fails it. Partial because
 * the pattern list grows with the API; a pattern without an entry gets a generic message.
 */
const DESCRIPTIONS: Partial<Record<PatternName, [expected: string, fix: string]>> = {
  ZONE_ID: ['a zone or region id', 'use lower-case letters, digits and dashes, like pek3a'],
  IPV4: ['an IPv4 address', 'use a dotted quad like 10.0.0.1'],
  IPV4_CIDR: ['an IPv4 CIDR', 'use an address and prefix length like 10.16.0.0/24'],
  IPV4_RANGE: ['an IPv4 range or CIDR', 'use a range like 10.0.0.10-10.0.0.20 or a CIDR like 10.0.0.0/24'],
  HOSTNAME: ['a hostname', 'use RFC 1123 labels (letters, digits, inner dashes) separated by dots'],
  HOST: [
    'an IPv4 address or hostname',
    'use a dotted quad like 10.0.0.1 or an RFC 1123 hostname like node-1.example.com',
  ],
  DEVICE: ['a block device name', 'use the name under /dev without the prefix, like sdb or nvme0n1'],
  PACKAGE: ['a Debian package name', 'use lower-case letters, digits and + . -, like pitrix-ks-proxy-tag'],
  PACKAGE_VERSION: ['a Debian package version', 'use a version like 4.6.2-20250101'],
  NODE_ID: ['a node id', 'use lower-case letters, digits and dashes, like hyper3'],
  YAML_KEY_PATH: [
    'a dotted YAML key path',
    'use identifiers joined by dots, like common.enable_global_tag_server',
  ],
  UNIX_USER: ['a Unix user name', 'use lower-case letters, digits, _ and -, like root'],
  OS_VERSION: ['an OS version', 'use digits and dots, like 16.04.5'],
  FIRSTBOX_PATH: [
    'an absolute path on firstbox',
    'use a path like /pitrix/kernels/bionic.img (no spaces, quotes or ..)',
  ],
  SHA256_FINGERPRINT: [
    'an OpenSSH SHA256 fingerprint',
    'copy the SHA256:... value printed by ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub',
  ],
};

/**
 * Returns `value` if it matches the named safe pattern, else throws a ValidationError naming the
 * resource field (`spec.nodes[2].address`) and how to fix it.
 */
export function validated(name: PatternName, value: string, field: string): string {
  if (typeof value === 'string' && patternRegExp(name).test(value)) return value;
  const [expected, fix] = DESCRIPTIONS[name] ?? [
    `a valid ${name.toLowerCase().replaceAll('_', ' ')}`,
    `use a value matching ${patterns[name]}`,
  ];
  throw new ValidationError(field, String(value), expected, fix);
}
