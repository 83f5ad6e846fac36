import { readFileSync } from 'node:fs';

/** Reads a file from test/fixtures/facts. */
export function fixture(name: string): string {
  return readFileSync(new URL(`../../test/fixtures/facts/${name}`, import.meta.url), 'utf8');
}

export const AT = '2025-01-02T03:04:05.000Z';
