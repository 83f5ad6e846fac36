/**
 * "Copy the `X.template.yaml` file in the `/pitrix/config/templates` directory to … then fill in
 * the configuration file … following the instructions in the template" (seed 003 §2.2, §3.2), for
 * the scale settings and a new zone's variables and settings, written once:
 *
 * - the firstbox files the plan needs are read in one round trip (base64, bytes exact);
 * - the filled file is the template's own text with only the named keys edited by the one YAML
 *   editor (yamledit.ts): every comment and instruction of the template stays;
 * - the copy step is the runbook's `cp -f TEMPLATE TARGET`, preceded by a dated backup of whatever
 *   was there (anything but a fresh copy of the template: a hand-made file, or a filled file a
 *   human may have edited) under a name `mktemp` makes unique, so two backups never collide, the
 *   same day or the same second;
 * - the fill is a remote file write whose precondition is the template copy.
 */
import { isMap, isScalar, type Node, type Pair } from 'yaml';
import type { Plan } from '../api/common.js';
import type { Step } from '../runbook/step.js';
import { sh, validated } from '../ssh/command.js';
import type { ShellCommand } from '../ssh/types.js';
import { fileWriteStep, sha256 } from './filewrite.js';
import type { ZoneAccess } from './platform.js';
import { editYaml, parseYaml11, type YamlEdit, YamlEditError } from './yamledit.js';

export const TEMPLATES_DIR = '/pitrix/config/templates';
export const SETTINGS_TEMPLATE = `${TEMPLATES_DIR}/settings.template.yaml`;
export const VARIABLES_TEMPLATE = `${TEMPLATES_DIR}/variables.template.yaml`;
/** First line of a file the operator filled in, so a human sees where it came from. */
export const FILLED_MARK = '# Filled in by pitrix-operator from a copy of';

/** A file read from the firstbox: its text, neither (missing), or why it could not be read. */
export interface FirstboxFile {
  text?: string;
  error?: string;
}
export type FirstboxFiles = Record<string, FirstboxFile>;

export function readFilesCommand(paths: readonly string[]): ShellCommand {
  const parts = paths.map((p, i) => {
    const path = validated('FIRSTBOX_PATH', p, 'firstbox file');
    return sh(
      'read a file',
    )`printf '@@file %s@@\n' ${String(i)}; if [ -e ${path} ]; then base64 -w0 < ${path} || echo '@@unreadable@@'; else echo '@@missing@@'; fi; echo`;
  });
  return { script: parts.map((p) => p.script).join('; '), purpose: 'read configuration files and templates' };
}

export function parseFiles(stdout: string, paths: readonly string[]): FirstboxFiles {
  const out: FirstboxFiles = {};
  const chunks = stdout.split(/^@@file (\d+)@@$/m);
  for (let i = 1; i + 1 < chunks.length; i += 2) {
    const path = paths[Number(chunks[i])];
    const body = chunks[i + 1]!.trim();
    if (!path) continue;
    if (body === '@@missing@@') out[path] = {};
    else if (body.endsWith('@@unreadable@@')) out[path] = { error: `${path} exists but could not be read` };
    else out[path] = { text: Buffer.from(body, 'base64').toString('utf8') };
  }
  for (const p of paths) out[p] ??= { error: `${p}: no answer in the read-back` };
  return out;
}

/** Reads the files in one round trip; a failure to run is reported per file, never thrown. */
export async function readFirstboxFiles(
  access: ZoneAccess,
  paths: readonly string[],
  signal?: AbortSignal,
): Promise<FirstboxFiles> {
  try {
    const r = await access.pool.exec(access.firstbox, readFilesCommand(paths), { timeoutMs: 30_000, signal });
    if (r.exitCode !== 0) {
      const why = `reading ${paths.join(', ')} exited ${r.exitCode}: ${r.stderr.trim().slice(0, 200)}`;
      return Object.fromEntries(paths.map((p) => [p, { error: why }]));
    }
    return parseFiles(r.stdout, paths);
  } catch (err) {
    return Object.fromEntries(paths.map((p) => [p, { error: (err as Error).message }]));
  }
}

/** A value to fill in: `key` is found by name anywhere in the template (once), `sub` below it. */
export interface Fill {
  key: string;
  sub?: string[];
  value: unknown;
}

function pathsOfKey(node: Node | null | undefined, key: string, at: string[], found: string[][]): void {
  if (!isMap(node)) return;
  for (const pair of node.items as Pair<Node, Node>[]) {
    const k = isScalar(pair.key) ? String(pair.key.value) : undefined;
    if (k === undefined) continue;
    if (k === key) found.push([...at, k]);
    else pathsOfKey(pair.value, key, [...at, k], found);
  }
}

/**
 * The template's text with the fills applied and the origin line on top. A key the template does
 * not have is added at the top level (the template shows `vbc` only in comments); a key it has
 * twice is an error (which one is meant cannot be told).
 */
export function fillTemplate(template: string, fills: readonly Fill[], what: string, origin: string): string {
  const doc = parseYaml11(template, what);
  const edits: YamlEdit[] = fills.map((f) => {
    const found: string[][] = [];
    pathsOfKey(doc.contents as Node | null, f.key, [], found);
    if (found.length > 1)
      throw new YamlEditError(
        `${what} has ${f.key} at ${found.map((p) => p.join('.')).join(' and ')}: which one to fill cannot be told`,
      );
    return { path: [...(found[0] ?? [f.key]), ...(f.sub ?? [])], value: f.value };
  });
  const { text } = editYaml(template, edits, what);
  return `${FILLED_MARK} ${origin}\n${text}`;
}

export interface CopyAndFill {
  /** Step id suffix: `copy${name}`, `fill${name}`. */
  name: string;
  /** Description prefix with the runbook reference. */
  R: string;
  template: string;
  templateText: string;
  target: string;
  filled: string;
  journal?: Plan;
  keys: string[];
}

export function copyAndFillSteps(c: CopyAndFill): Step[] {
  const done = sha256(c.filled);
  return [
    {
      id: `copy${c.name}`,
      description: `${c.R} copy ${c.template} to ${c.target} (cp -f), keeping anything else found there as a dated backup`,
      host: { kind: 'firstbox' },
      command: sh(
        `copy ${c.template}`,
      )`f=${c.target}; if [ -e "$f" ] && ! cmp -s "$f" ${c.template}; then b=$(mktemp "$f.bak-$(date -u +%Y%m%d)-XXXXXX") && cp -p "$f" "$b" && echo "kept the earlier $f as $b"; fi && cp -f ${c.template} ${c.target}`,
      // Already filled in with exactly this: neither copied nor backed up again.
      check: sh(
        `${c.target} already filled in?`,
      )`[ "$(sha256sum < ${c.target} 2>/dev/null | cut -c1-64)" = ${done} ]`,
      idempotent: true,
      timeoutMs: 60_000,
    },
    fileWriteStep({
      id: `fill${c.name}`,
      description: `${c.R} fill in ${c.target} following the template`,
      path: c.target,
      content: c.filled,
      before: c.templateText,
      backup: `${c.target}.template-copy`,
      summary: `keys ${c.keys.join(', ')}`,
      journal: c.journal,
      timeoutMs: 60_000,
    }),
  ];
}
