/**
 * `npm run bench [-- --quick] [-- --only fleet|http|memory|scale] [-- --render]`: every benchmark of SPEC 10.
 * Without `scale` < 15 minutes (--quick < 3); `scale` (issue 15: 10,000 complete tenants, 50,000 for the no-op
 * check) takes far longer — `--only scale --tenants 1000 --noop 10000` for a smaller run.
 * `--only http --case tasks-list[,task-get] [--workers 1]` measures some HTTP cases only, printed but not saved
 * (for before/after comparisons while working).
 * Results are printed and written to bench/results.json and BENCHMARKS.md.
 */
import { parseArgs } from 'node:util';
import { runFleetSection } from './fleet.ts';
import { machineDescription, renderAgain } from './harness.ts';
import { runHttpSection } from './http.ts';
import { runMemorySection } from './memory.ts';
import { runScaleSection } from './scale.ts';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean' },
    only: { type: 'string' },
    render: { type: 'boolean' },
    case: { type: 'string' },
    workers: { type: 'string' },
    tenants: { type: 'string' },
    noop: { type: 'string' },
    active: { type: 'string' },
    shapes: { type: 'string' },
  },
  strict: true,
});
const quick = values.quick ?? false;
// --only memory: `--tenants 10000 --active 1000,5000 --shapes 4200` (the defaults) say what is measured.
const memory = {
  quick,
  tenants: values.tenants ? Number(values.tenants) : undefined,
  active: values.active?.split(',').map(Number),
  shapes: values.shapes ? Number(values.shapes) : undefined,
};
const flags = [
  quick ? '--quick' : '',
  values.only ? `--only ${values.only}` : '',
  values.tenants ? `--tenants ${values.tenants}` : '',
  values.active ? `--active ${values.active}` : '',
  values.shapes ? `--shapes ${values.shapes}` : '',
]
  .filter(Boolean)
  .join(' ');
const command = `npm run bench${flags ? ` -- ${flags}` : ''}`;
const only = values.only;
if (only && !['fleet', 'http', 'memory', 'scale'].includes(only)) {
  console.error(`unknown section "${only}": fleet, http, memory or scale`);
  process.exit(2);
}
// A full run measures memory on the fleet section's tenants (10,000 at head) instead of making them twice.
const sections: Record<string, () => Promise<void>> = {
  fleet: () =>
    runFleetSection(quick, command, only ? undefined : (fleet) => runMemorySection(memory, command, fleet)),
  memory: () => runMemorySection(memory, command),
  // Fleet size (issue 15): --tenants 1000,10000 --noop 50000 by default; --quick 100,1000 / 5000.
  scale: () =>
    runScaleSection(
      {
        sizes: (values.tenants ?? (quick ? '100,1000' : '1000,10000')).split(',').map(Number),
        noop: Number(values.noop ?? (quick ? 5000 : 50_000)),
      },
      `${command}${values.noop ? ` --noop ${values.noop}` : ''}`,
    ),
  http: () =>
    runHttpSection(quick, command, {
      cases: values.case?.split(','),
      workers: values.workers?.split(',').map(Number),
    }),
};

if (values.render) {
  // `npm run bench -- --render`: BENCHMARKS.md again from bench/results.json (after editing bench/analysis.md).
  await renderAgain();
  process.exit(0);
}

const started = performance.now();
console.log(`Machine: ${machineDescription()}`);
for (const [name, run] of Object.entries(sections)) {
  if (only ? only !== name : name === 'memory') continue;
  console.log(`\n== ${name}`);
  await run();
}
console.log(`\nbench finished in ${Math.round((performance.now() - started) / 1000)} s`);
