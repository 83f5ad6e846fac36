/**
 * The recorded figures the regression guard holds the operator to: the newest committed
 * bench/results/DATE-NAME.json (`npm run bench -- NAME --record`).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './result.js';

export function recorded<T>(name: string): { file: string; result: T } {
  const dir = join(ROOT, 'bench', 'results');
  const files = readdirSync(dir)
    .filter((f) => new RegExp(`^\\d{4}-\\d{2}-\\d{2}-${name}\\.json$`).test(f))
    .sort();
  const file = files.at(-1);
  if (!file)
    throw new Error(
      `no recorded ${name} benchmark in bench/results: run \`npm run bench -- ${name} --record\` and commit it`,
    );
  return {
    file: join('bench', 'results', file),
    result: JSON.parse(readFileSync(join(dir, file), 'utf8')) as T,
  };
}
