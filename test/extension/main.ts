/** `pitrix-operator run` with the shipped runbooks and ProgramRestart: what a new runbook's author runs. */
import { parseRunArgs, runOperator } from '../../src/cli/run.js';
import { RUNBOOKS } from '../../src/controllers/registry.js';
import { programRestartRunbook } from './runbook.js';

await runOperator(parseRunArgs(process.argv.slice(2)), [...RUNBOOKS, programRestartRunbook]);
