/**
 * The `@@pitrix:SECTION@@` framing shared by the node probe and the firstbox batch: one round
 * trip runs several commands, and each command's output follows its marker line.
 */
import { excerpt, FactsParseError } from './errors.js';

export const END_SECTION = 'end';
const MARKER = /^@@pitrix:([a-z][a-z0-9_-]*)@@$/;

/** Shell that prints a marker on a line of its own, even after output without a final newline. */
export const MARKER_FUNCTION = 'm() { printf \'\\n@@pitrix:%s@@\\n\' "$1"; }';

export interface Sections {
  /** Section name → its text, trimmed of the blank lines the markers add. */
  sections: Map<string, string>;
  problems: string[];
}

/**
 * Splits framed output. Text before the first marker is ignored (login banners, rc-file chatter).
 * Throws FactsParseError when the output is empty, has no markers, or stops before `end`: then it
 * is not (all of) our script's output and no section can be trusted to be complete.
 */
export function splitSections(stdout: string, what: string): Sections {
  if (stdout.trim() === '') throw new FactsParseError('output', `${what} printed nothing`);
  const sections = new Map<string, string>();
  const problems: string[] = [];
  let current: string | null = null;
  let buf: string[] = [];
  let ended = false;
  const flush = () => {
    if (current === null) return;
    if (sections.has(current)) problems.push(`${current}: section printed twice; using the first`);
    else sections.set(current, buf.join('\n').replace(/^\n+|\s+$/g, ''));
  };
  for (const line of stdout.replace(/\r\n/g, '\n').split('\n')) {
    const m = MARKER.exec(line.trim());
    if (!m?.[1]) {
      if (current !== null) buf.push(line);
      continue;
    }
    flush();
    if (m[1] === END_SECTION) {
      ended = true;
      break;
    }
    current = m[1];
    buf = [];
  }
  if (current === null && !ended) {
    throw new FactsParseError(
      'output',
      `no @@pitrix: section markers, so this is not ${what} output (${excerpt(stdout)})`,
    );
  }
  if (!ended) {
    throw new FactsParseError(
      'output',
      `output stops inside section "${current}" before @@pitrix:${END_SECTION}@@: ${what} was cut off`,
    );
  }
  return { sections, problems };
}
