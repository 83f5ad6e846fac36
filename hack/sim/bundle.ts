/**
 * Bundles the simulated commands (hack/sim/cmd/main.ts and the state library, yaml included) into
 * one ESM file, so each command invocation inside a host is a single Node start with no
 * TypeScript work. esbuild comes with tsx; bundling takes ~100 ms.
 */
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const HERE = dirname(fileURLToPath(import.meta.url));

export async function bundleCommands(outFile: string): Promise<void> {
  mkdirSync(dirname(outFile), { recursive: true });
  await build({
    entryPoints: [join(HERE, 'cmd/main.ts')],
    outfile: outFile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    logLevel: 'error',
    // yaml's CommonJS bits expect `require`.
    banner: {
      js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
    },
  });
}
