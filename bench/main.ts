/**
 * `npm run bench -- [NAME] [options]`: the operator's benchmarks (docs/benchmarks.md). NAME is one
 * of the scripts below; without one, the node fact collection benchmark (`facts`) runs, as before.
 * Each prints a table, writes bench/results/latest-NAME.json and, with `--record`, the committed
 * bench/results/DATE-NAME.json, stating the machine, the command and the load.
 */
const BENCHES: Record<string, string> = {
  facts: './facts.js',
  engine: './engine.js',
  idle: './idle.js',
  burst: './burst.js',
  'status-size': './status-size.js',
  'status-write': './status-write.js',
};

const name = process.argv[2];
if (name && !name.startsWith('-')) {
  if (!BENCHES[name]) {
    process.stderr.write(`[bench] unknown benchmark ${name}; one of: ${Object.keys(BENCHES).join(', ')}\n`);
    process.exit(2);
  }
  process.argv.splice(2, 1);
}
process.env.PITRIX_BENCH_NAME = name && !name.startsWith('-') ? name : 'facts';
await import(BENCHES[process.env.PITRIX_BENCH_NAME]!);
