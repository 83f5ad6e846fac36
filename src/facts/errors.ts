/**
 * Errors of fact parsing and collection. Messages name the section and quote a little of what was
 * seen, because they end up in NodePool status where an operator must tell "the probe was cut
 * off" from "this host is not what we think it is".
 */

/** Output that cannot be turned into facts. `section` is the probe section (or `output`). */
export class FactsParseError extends Error {
  readonly section: string;

  constructor(section: string, problem: string, options?: { cause?: unknown }) {
    super(`cannot parse ${section}: ${problem}`, options);
    this.name = 'FactsParseError';
    this.section = section;
  }
}

/** The probe ran but its result cannot be used (killed, cut off, unparseable). */
export class FactsCollectionError extends Error {
  readonly host: string;

  constructor(host: string, problem: string, options?: { cause?: unknown }) {
    super(`${host}: collecting facts failed: ${problem}`, options);
    this.name = 'FactsCollectionError';
    this.host = host;
  }
}

/** A short, single-line excerpt of untrusted output for error messages. */
export function excerpt(text: string, max = 80): string {
  const flat = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  if (flat.length === 0) return '(empty)';
  return JSON.stringify(flat.length > max ? `${flat.slice(0, max)}…` : flat);
}
