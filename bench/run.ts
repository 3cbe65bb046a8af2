/**
 * `npm run bench [-- --quick] [-- --only fleet|http]`: every benchmark of SPEC 10, bounded in time.
 * Results are printed and written to bench/results.json and BENCHMARKS.md.
 */
import { parseArgs } from 'node:util';
import { runFleetSection } from './fleet.ts';
import { machineDescription } from './harness.ts';

const { values } = parseArgs({
  options: { quick: { type: 'boolean' }, only: { type: 'string' } },
  strict: true,
});
const quick = values.quick ?? false;
const command = `npm run bench${quick ? ' -- --quick' : ''}${values.only ? ` -- --only ${values.only}` : ''}`;
const sections: Record<string, () => Promise<void>> = {
  fleet: () => runFleetSection(quick, command),
};

console.log(`Machine: ${machineDescription()}`);
for (const [name, run] of Object.entries(sections)) {
  if (values.only && values.only !== name) continue;
  console.log(`\n== ${name}`);
  await run();
}
