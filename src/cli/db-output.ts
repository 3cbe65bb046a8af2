/** How `tenantry db` prints runs and fleet reports: text for people, `--json` for scripts. */
import type { FleetReport } from '../migrations/fleet.ts';
import type { FleetDowngradeReport } from '../migrations/fleet-downgrade.ts';
import { describeDrops, type RunResult } from '../migrations/runner.ts';
import { print, table } from './io.ts';

export function printRun(result: RunResult, json: boolean, verb: string): void {
  if (json) {
    print(JSON.stringify(result, null, 2));
    return;
  }
  const prefix = result.dryRun ? '[dry run] ' : '';
  if (result.steps.length === 0) {
    print(`${prefix}${result.schema}: nothing to ${verb} (at ${result.from ?? 'base'})`);
    return;
  }
  for (const step of result.steps) {
    print(
      `${prefix}${result.schema}: ${result.dryRun ? `would ${verb}` : `${verb}d`} ${step.name} — ${step.description} (${step.durationMs} ms)`,
    );
  }
  if (result.drops?.length) {
    print(
      `${prefix}${result.schema}: ${result.dryRun ? 'would drop' : 'dropped'} ${describeDrops(result.drops)}`,
    );
  }
  print(
    `${prefix}${result.schema}: ${result.from ?? 'base'} → ${result.to ?? 'base'} in ${result.durationMs} ms${
      result.dryRun ? '; rolled back, nothing changed' : ''
    }`,
  );
  if (verb === 'downgrade' && !result.dryRun && result.schema !== 'public') {
    print(`${result.schema}: pinned at ${result.to ?? 'base'}; no automatic upgrade until an explicit one`);
  }
}

export function printFleetDowngrade(report: FleetDowngradeReport, json: boolean): void {
  if (json) {
    print(JSON.stringify(report, null, 2));
    return;
  }
  if (report.results.length > 0) {
    print(
      table(
        ['tenant', 'host', 'outcome', 'from', 'to', 'reverted', 'drops', 'error'],
        report.results.map((r) => [
          r.tenant_id,
          r.host,
          r.outcome,
          r.from,
          r.to,
          r.reverted.length,
          r.drops.length ? describeDrops(r.drops) : null,
          r.error,
        ]),
      ),
    );
  }
  print(
    `${report.dry_run ? '[dry run] ' : ''}tenants: ${report.total}  downgraded (and pinned): ${report.downgraded}  would downgrade: ${
      report.would_downgrade
    }  refused (would drop data; --confirm): ${report.refused}  failed: ${report.failed}`,
  );
}

export function progressBar(done: number, total: number): void {
  if (!process.stderr.isTTY) return;
  const width = 30;
  const filled = Math.round((done / Math.max(total, 1)) * width);
  process.stderr.write(`\r[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total} tenants`);
  if (done === total) process.stderr.write('\n');
}

export function printFleet(report: FleetReport, json: boolean): void {
  if (json) {
    print(JSON.stringify(report, null, 2));
    return;
  }
  const shown = report.results.filter((r) => r.outcome !== 'up_to_date');
  if (shown.length > 0) {
    print(
      table(
        ['tenant', 'host', 'outcome', 'from', 'to', 'applied', 'ms', 'error'],
        shown.map((r) => [
          r.tenant_id,
          r.host,
          r.outcome,
          r.from,
          r.to,
          r.applied.length,
          r.duration_ms,
          r.error,
        ]),
      ),
    );
  }
  print(
    `${report.dry_run ? '[dry run] ' : ''}tenants: ${report.total}  upgraded: ${report.upgraded}  would upgrade: ${
      report.would_upgrade
    }  up to date: ${report.up_to_date}  pinned, skipped: ${report.skipped}  failed: ${report.failed}  (${report.duration_ms} ms)`,
  );
}
