/**
 * The one editor of the platform's YAML files (server.yaml.<zone>, boss2.yaml.<zone>,
 * local_config.yaml, variables), for every kind. The platform's own tools are Python and read
 * these files as YAML 1.1 (PyYAML), so values are read and compared under YAML 1.1: `0755` is a
 * number (493), `yes`/`on` are true.
 *
 * An edit changes the bytes of the named keys' values and nothing else: the value is spliced in
 * place, so comments (the edited line's inline comment too), blank lines, flow style, anchors,
 * quoting and long lines elsewhere stay byte for byte. A missing key is one new line (or a few,
 * for missing parents) appended to its block mapping at that mapping's indentation. A new value
 * keeps the old one's spelling where it can (quote style; yes/no, on/off or true/false family),
 * is plain otherwise, and is single-quoted whenever a plain spelling would be read back as another type or value under
 * YAML 1.1 or 1.2. Every result is re-parsed and checked: the edited keys hold the new values,
 * every other value is what it was, no comment was lost. Anything it cannot do that way (a key
 * under a flow mapping, a path through a list or a value) is an error naming the key: the file is
 * left to a human rather than rewritten.
 */
import { type Document, isMap, isScalar, isSeq, parseDocument, Scalar, type YAMLMap } from 'yaml';

export interface YamlEdit {
  /** Key path from the top: `['common', 'enable_global_tag_server']`. */
  path: readonly string[];
  value: unknown;
}

export interface YamlChange {
  path: readonly string[];
  /** The value before, as text (absent when the key was missing). */
  before?: string;
  after: string;
}

export class YamlEditError extends Error {
  override name = 'YamlEditError';
}

const keyOf = (path: readonly string[]) => path.join('.');

/** The file as the platform's Python tools read it: YAML 1.1. */
export function parseYaml11(text: string, what: string): Document.Parsed {
  const doc = parseDocument(text, { version: '1.1', keepSourceTokens: false });
  if (doc.errors.length > 0)
    throw new YamlEditError(`${what} is not valid YAML: ${doc.errors[0]!.message.split('\n')[0]}`);
  if (doc.contents !== null && !isMap(doc.contents))
    throw new YamlEditError(`${what} is not a YAML mapping at the top level`);
  return doc;
}

/** The value at a key path (YAML 1.1), or undefined when a part of it is missing. */
export function readPath(text: string, path: readonly string[], what: string): unknown {
  const doc = parseYaml11(text, what);
  const node = doc.getIn(path, true);
  if (node === undefined) return undefined;
  return isScalar(node) ? node.value : (node as { toJSON(): unknown }).toJSON();
}

/** A value for messages and status: strings quoted, the rest as JSON. */
export function show(v: unknown): string {
  if (v === undefined) return '(missing)';
  if (typeof v === 'string') return `'${v}'`;
  return typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v);
}

/** The edits whose key does not hold the wanted value yet (same type and value). */
export function pendingChanges(text: string, edits: readonly YamlEdit[], what: string): YamlChange[] {
  const doc = parseYaml11(text, what);
  const out: YamlChange[] = [];
  for (const e of edits) {
    const node = doc.getIn(e.path, true);
    const actual =
      node === undefined ? undefined : isScalar(node) ? node.value : (node as { toJSON(): unknown }).toJSON();
    if (!deepEqual(actual, e.value))
      out.push({
        path: e.path,
        ...(node === undefined ? {} : { before: show(actual) }),
        after: show(e.value),
      });
  }
  return out;
}

/** Whether every edit already holds (a missing file holds none but an empty list). */
export function editsHold(text: string | undefined, edits: readonly YamlEdit[], what: string): boolean {
  if (text === undefined) return edits.length === 0;
  try {
    return pendingChanges(text, edits, what).length === 0;
  } catch {
    return false;
  }
}

/** Applies the edits (see the file comment); pure. Throws YamlEditError when it cannot. */
export function editYaml(
  text: string,
  edits: readonly YamlEdit[],
  what: string,
): { text: string; changes: YamlChange[] } {
  const changes = pendingChanges(text, edits, what);
  if (changes.length === 0) return { text, changes };
  const todo = edits.filter((e) => changes.some((c) => keyOf(c.path) === keyOf(e.path)));
  let out = text;
  // One edit at a time, each on a fresh parse, so offsets always refer to the current text.
  for (const e of todo) out = applyOne(out, e, what);
  checkOnlyKeysChanged(text, out, todo, what);
  return { text: out, changes };
}

function applyOne(text: string, e: YamlEdit, what: string): string {
  const doc = parseYaml11(text, what);
  const node = doc.getIn(e.path, true);
  if (node !== undefined) {
    const range = (node as { range?: [number, number, number] }).range;
    if (!range) throw new YamlEditError(`${what}: cannot locate ${keyOf(e.path)} in the file`);
    if (isScalar(node)) {
      const block = node.type === Scalar.BLOCK_LITERAL || node.type === Scalar.BLOCK_FOLDED;
      // A block scalar's range ends after its last line break; keep one.
      return text.slice(0, range[0]) + render(e.value, node) + (block ? '\n' : '') + text.slice(range[1]);
    }
    // A mapping or list is replaced only by one of its kind: anything else is a type change the
    // runbook never asks for.
    const kind = isMap(node) ? 'mapping' : 'list';
    if (isMap(node) ? !isPlainObject(e.value) : !Array.isArray(e.value))
      throw new YamlEditError(`${what}: ${keyOf(e.path)} holds a ${kind}, not a value; edit it by hand`);
    // A block collection ends after its last line; a flow one ends at its bracket.
    const blockCollection = text.slice(range[0], range[1]).endsWith('\n');
    return text.slice(0, range[0]) + render(e.value) + (blockCollection ? '\n' : '') + text.slice(range[1]);
  }
  // Missing: find the deepest mapping on the path that exists and append to it.
  let depth = e.path.length - 1;
  let parent: unknown = depth === 0 ? doc.contents : doc.getIn(e.path.slice(0, depth), true);
  while (parent === undefined && depth > 0) {
    depth--;
    parent = depth === 0 ? doc.contents : doc.getIn(e.path.slice(0, depth), true);
  }
  const rest = e.path.slice(depth);
  if (parent === null || parent === undefined) {
    // An empty file.
    const sep = text === '' || text.endsWith('\n') ? '' : '\n';
    return text + sep + lines(rest, e.value, '', '  ');
  }
  if (!isMap(parent))
    throw new YamlEditError(
      `${what}: ${keyOf(e.path.slice(0, depth)) || 'the top level'} is a ${isSeq(parent) ? 'list' : 'value'}, not a mapping; cannot set ${keyOf(e.path)}`,
    );
  const map = parent as YAMLMap;
  if (map.flow)
    throw new YamlEditError(
      `${what}: ${keyOf(e.path.slice(0, depth))} is a flow mapping ({...}); add ${keyOf(e.path)} by hand`,
    );
  const first = map.items[0]?.key as { range?: [number, number, number] } | undefined;
  const at = map.range?.[1];
  if (!first?.range || at === undefined)
    throw new YamlEditError(`${what}: cannot locate ${keyOf(e.path.slice(0, depth))} in the file`);
  const lineStart = text.lastIndexOf('\n', first.range[0] - 1) + 1;
  const indent = text.slice(lineStart, first.range[0]);
  if (!/^ *$/.test(indent))
    throw new YamlEditError(`${what}: ${keyOf(e.path.slice(0, depth))} is not a plain block mapping`);
  const sep = at === 0 || text[at - 1] === '\n' ? '' : '\n';
  return text.slice(0, at) + sep + lines(rest, e.value, indent, '  ') + text.slice(at);
}

/** `key: value` lines for a path below an existing mapping, at its indentation. */
function lines(path: readonly string[], value: unknown, indent: string, step: string): string {
  const [head, ...tail] = path;
  if (tail.length === 0) {
    // A new mapping is written in block style, as the runbooks show them.
    if (isPlainObject(value) && Object.keys(value).length > 0)
      return `${indent}${plainOrQuoted(head!)}:\n${Object.entries(value)
        .map(([k, v]) => lines([k], v, indent + step, step))
        .join('')}`;
    return `${indent}${plainOrQuoted(head!)}: ${render(value)}\n`;
  }
  return `${indent}${plainOrQuoted(head!)}:\n${lines(tail, value, indent + step, step)}`;
}

const BOOL_FAMILIES: Array<[string, string]> = [
  ['true', 'false'],
  ['yes', 'no'],
  ['on', 'off'],
  ['y', 'n'],
];

/** The text for a value, keeping the old scalar's quote style or boolean spelling when there was one. */
function render(v: unknown, old?: Scalar): string {
  if (typeof v === 'boolean') {
    const src = old && old.type === Scalar.PLAIN ? String(old.source ?? '') : '';
    const fam = BOOL_FAMILIES.find(([t, f]) => [t, f].includes(src.toLowerCase()));
    if (fam) {
      const word = v ? fam[0] : fam[1];
      if (src === src.toUpperCase()) return word.toUpperCase();
      if (src[0] === src[0]!.toUpperCase()) return word[0]!.toUpperCase() + word.slice(1);
      return word;
    }
    return v ? 'true' : 'false';
  }
  if (v === null) return 'null';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new YamlEditError(`cannot write ${v} to YAML`);
    return String(v);
  }
  if (typeof v === 'string') {
    if (old?.type === Scalar.QUOTE_DOUBLE) return JSON.stringify(v);
    if (old?.type === Scalar.QUOTE_SINGLE) return singleQuoted(v);
    return plainOrQuoted(v);
  }
  if (Array.isArray(v)) return `[${v.map((x) => render(x)).join(', ')}]`;
  if (typeof v === 'object')
    return `{${Object.entries(v as Record<string, unknown>)
      .map(([k, x]) => `${plainOrQuoted(k)}: ${render(x)}`)
      .join(', ')}}`;
  throw new YamlEditError(`cannot write a ${typeof v} to YAML`);
}

const singleQuoted = (s: string) => `'${s.replaceAll("'", "''")}'`;

/** Plain when it reads back as the same string under YAML 1.1 and 1.2; single-quoted otherwise. */
function plainOrQuoted(s: string): string {
  if (!/^[A-Za-z0-9_./@%+-][A-Za-z0-9_./@%+ :-]*$/.test(s) || /\s$|:$|: /.test(s)) return singleQuoted(s);
  for (const version of ['1.1', '1.2'] as const) {
    const back = parseDocument(`k: ${s}\n`, { version }).toJS() as { k?: unknown } | null;
    if (back?.k !== s) return singleQuoted(s);
  }
  return s;
}

/** Throws unless `after` equals `before` with exactly the edited keys set and every comment kept. */
export function checkOnlyKeysChanged(
  before: string,
  after: string,
  edits: readonly YamlEdit[],
  what: string,
): void {
  const expected = (parseYaml11(before, what).toJS() ?? {}) as Record<string, unknown>;
  for (const e of edits) {
    let cur = expected;
    for (const p of e.path.slice(0, -1)) {
      if (cur[p] === undefined || cur[p] === null) cur[p] = {};
      cur = cur[p] as Record<string, unknown>;
    }
    cur[e.path.at(-1)!] = e.value;
  }
  const actual = parseYaml11(after, `${what} (edited)`).toJS() ?? {};
  if (!deepEqual(actual, expected))
    throw new YamlEditError(
      `${what}: the edit would change more than ${edits.map((e) => keyOf(e.path)).join(', ')} (an anchor or merge shares the value?); edit it by hand`,
    );
  const kept = new Set(commentsOf(after));
  const lost = commentsOf(before).filter((c) => !kept.has(c));
  if (lost.length > 0) throw new YamlEditError(`${what}: the edit would drop the comment "${lost[0]}"`);
}

function commentsOf(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('#'));
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isPlainObject(a) && isPlainObject(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => deepEqual(a[k], b[k]));
  }
  return false;
}
