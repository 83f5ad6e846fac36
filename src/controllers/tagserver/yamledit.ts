/**
 * Key edits of a server.yaml that keep the rest of the file as it was (runbook R1 steps 3-4).
 * A key that exists is changed in place: only the bytes of its value are replaced, so every other
 * key, comment, blank line and quoting style stays byte for byte. A missing key is added with the
 * `yaml` Document API (which keeps comments). Every result is checked: re-parsed, the edited keys
 * hold the new values and every other value equals the original.
 */
import { isMap, isScalar, parseDocument, Scalar } from 'yaml';

export type YamlValue = string | boolean;

export interface KeyEdit {
  /** Dotted key path: `common.enable_global_tag_server`. */
  key: string;
  value: YamlValue;
}

export interface KeyChange {
  key: string;
  before?: string;
  after: string;
}

export interface EditResult {
  text: string;
  changes: KeyChange[];
}

export class YamlEditError extends Error {
  override name = 'YamlEditError';
}

const pathOf = (key: string) => key.split('.');

/** The value as the file spells it (for status and messages). */
export function show(v: unknown): string {
  if (v === undefined) return '(missing)';
  if (typeof v === 'string') return `'${v}'`;
  return String(v);
}

function parse(text: string, what: string) {
  const doc = parseDocument(text);
  if (doc.errors.length > 0)
    throw new YamlEditError(`${what} is not valid YAML: ${doc.errors[0]!.message.split('\n')[0]}`);
  if (doc.contents !== null && !isMap(doc.contents))
    throw new YamlEditError(`${what} is not a YAML mapping at the top level`);
  return doc;
}

/** Current value at a dotted key, or undefined when a part of the path is missing. */
export function readKey(text: string, key: string, what = 'server.yaml'): unknown {
  const doc = parse(text, what);
  const node = doc.getIn(pathOf(key), true);
  return isScalar(node) ? node.value : node === undefined ? undefined : doc.getIn(pathOf(key));
}

/** Whether the value found satisfies the edit: same type and value (the string "true" is not true). */
export function satisfied(actual: unknown, want: YamlValue): boolean {
  return actual === want;
}

/** Keys whose values differ from the wanted ones. */
export function pendingEdits(text: string, edits: readonly KeyEdit[], what = 'server.yaml'): KeyChange[] {
  const doc = parse(text, what);
  const out: KeyChange[] = [];
  for (const e of edits) {
    const node = doc.getIn(pathOf(e.key), true);
    const actual = isScalar(node) ? node.value : node === undefined ? undefined : doc.getIn(pathOf(e.key));
    if (!satisfied(actual, e.value))
      out.push({
        key: e.key,
        ...(actual === undefined ? {} : { before: show(actual) }),
        after: show(e.value),
      });
  }
  return out;
}

function render(v: YamlValue): string {
  if (typeof v === 'boolean') return String(v);
  return `'${v.replaceAll("'", "''")}'`;
}

/**
 * Applies the edits. Pure; throws YamlEditError when the file cannot be edited safely (invalid
 * YAML, a key path running through a non-mapping, or a result that would change other keys).
 */
export function editYaml(text: string, edits: readonly KeyEdit[], what = 'server.yaml'): EditResult {
  const changes = pendingEdits(text, edits, what);
  if (changes.length === 0) return { text, changes };
  const doc = parse(text, what);
  const todo = edits.filter((e) => changes.some((c) => c.key === e.key));
  const splices: Array<{ start: number; end: number; value: string }> = [];
  let structural = false;
  for (const e of todo) {
    const node = doc.getIn(pathOf(e.key), true);
    if (isScalar(node) && node.range) {
      splices.push({ start: node.range[0], end: node.range[1], value: render(e.value) });
    } else if (node === undefined || isScalar(node)) {
      structural = true;
    } else {
      throw new YamlEditError(`${what}: ${e.key} holds a ${isMap(node) ? 'mapping' : 'list'}, not a value`);
    }
  }
  let out: string;
  if (!structural) {
    out = text;
    for (const s of splices.sort((a, b) => b.start - a.start))
      out = out.slice(0, s.start) + s.value + out.slice(s.end);
  } else {
    for (const e of todo) {
      const parts = pathOf(e.key);
      for (let i = 1; i < parts.length; i++) {
        const parent = doc.getIn(parts.slice(0, i), true);
        if (parent !== undefined && !isMap(parent))
          throw new YamlEditError(
            `${what}: ${parts.slice(0, i).join('.')} is not a mapping; cannot set ${e.key}`,
          );
      }
      const scalar = new Scalar(e.value);
      if (typeof e.value === 'string') scalar.type = Scalar.QUOTE_SINGLE;
      doc.setIn(parts, scalar);
    }
    out = doc.toString();
  }
  checkOnlyKeysChanged(text, out, todo, what);
  return { text: out, changes };
}

/** Throws unless `after` equals `before` with exactly the edited keys set. */
export function checkOnlyKeysChanged(
  before: string,
  after: string,
  edits: readonly KeyEdit[],
  what = 'server.yaml',
): void {
  const expected = parse(before, what).toJS() ?? {};
  for (const e of edits) {
    const parts = pathOf(e.key);
    let cur = expected as Record<string, unknown>;
    for (const p of parts.slice(0, -1)) {
      if (cur[p] === undefined || cur[p] === null) cur[p] = {};
      cur = cur[p] as Record<string, unknown>;
    }
    cur[parts.at(-1)!] = e.value;
  }
  const actual = parse(after, `${what} (edited)`).toJS() ?? {};
  const a = JSON.stringify(sortKeys(actual));
  const b = JSON.stringify(sortKeys(expected));
  if (a !== b)
    throw new YamlEditError(`${what}: the edit would change more than ${edits.map((e) => e.key).join(', ')}`);
  const commentsBefore = commentLines(before);
  const commentsAfter = new Set(commentLines(after));
  const lost = commentsBefore.filter((c) => !commentsAfter.has(c));
  if (lost.length > 0) throw new YamlEditError(`${what}: the edit would drop the comment "${lost[0]}"`);
}

function commentLines(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('#'));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object')
    return Object.fromEntries(
      Object.keys(v as object)
        .sort()
        .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
    );
  return v;
}
