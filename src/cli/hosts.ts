/**
 * `tenantry hosts list` — every database host (default and TENANT_DATABASE_URLS) with its tenants, the
 * size of its tenant schemas and of its database, its connections, its host-level migration revision
 * and whether it answers (the same figures as `GET /cc/hosts`, src/tenancy/host-stats.ts). An
 * unreachable host is a row saying so, not a failure: the command exits 0 unless the registry itself
 * cannot be read.
 */
import { hostStats } from '../tenancy/host-stats.ts';
import { type CommandGroup, EXIT, parseOptions, print, table, unknownName, withCore } from './io.ts';

const HELP = `Usage: tenantry hosts list [--json]

Lists every database host: tenants placed there, size of its tenant schemas and of its database,
connections (pg_stat_activity), host-level migration revision, reachability. The placement policy
in force (TENANT_PLACEMENT) is printed below the table.
`;

/** 1536 → "1.5 kB" (decimal units, like the backup list). */
export function formatBytes(bytes: number | null): string {
  if (bytes === null) return '-';
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

async function list(argv: string[]): Promise<number> {
  const { values } = parseOptions(
    argv,
    { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    false,
  );
  if (values.help) {
    print(HELP);
    return EXIT.OK;
  }
  return withCore(async (core) => {
    const stats = await hostStats(core);
    if (values.json) {
      print(JSON.stringify({ policy: core.config.tenantPlacement, items: stats }, null, 2));
      return EXIT.OK;
    }
    print(
      table(
        ['HOST', 'TENANTS', 'TENANT SIZE', 'DB SIZE', 'CONNECTIONS', 'HOST REVISION', 'STATUS'],
        stats.map((s) => [
          s.host,
          s.tenants,
          formatBytes(s.tenant_bytes),
          formatBytes(s.database_bytes),
          s.connections ?? '-',
          s.reachable
            ? (s.host_revision ?? 'base') + (s.host_revision === s.host_head ? '' : ' (behind)')
            : '-',
          s.reachable ? 'ok' : `unreachable: ${s.error}`,
        ]),
      ),
    );
    print(`\nplacement: ${core.config.tenantPlacement} (TENANT_PLACEMENT)`);
    return EXIT.OK;
  });
}

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = { list };

export const hostCommands: CommandGroup = {
  async run(argv) {
    const [command, ...rest] = argv;
    if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
      print(HELP);
      return command === undefined ? EXIT.USAGE : EXIT.OK;
    }
    const handler = COMMANDS[command];
    if (!handler) throw unknownName('hosts command', command, Object.keys(COMMANDS), HELP);
    return handler(rest);
  },
};
