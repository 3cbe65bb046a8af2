/**
 * Background fleet migrations started from the control center (`POST /cc/migrate` → 202 {job_id}).
 *
 * Jobs live in memory only (the most recent MAX_JOBS): a restart forgets them, which is safe because each
 * tenant is migrated in its own transaction and its outcome is written to the registry — a killed server
 * leaves every tenant either migrated or untouched, and `only_failed` / a new run picks up the rest.
 * `app.close()` waits for running jobs so tests and graceful shutdowns never cut one off mid-tenant.
 */
import { randomUUID } from 'node:crypto';
import type { Core } from '../../core.ts';
import {
  describeError,
  type FleetOptions,
  type FleetTenantResult,
  upgradeFleet,
} from '../../migrations/fleet.ts';
import type { RegistryCache } from '../../tenancy/registry-cache.ts';
import type { JobView } from './schemas.ts';

const MAX_JOBS = 100;

interface Job {
  view: JobView;
  done: Promise<void>;
}

export interface FleetJobRequest {
  target?: string;
  dry_run?: boolean;
  concurrency?: number;
  tenants?: string[];
  only_failed?: boolean;
}

export class JobStore {
  private readonly jobs = new Map<string, Job>();

  constructor(
    private readonly core: Core,
    private readonly cache: RegistryCache,
  ) {}

  /** Starts a fleet upgrade in the background and returns its id at once. */
  startFleetMigration(request: FleetJobRequest): string {
    const id = randomUUID();
    const results: FleetTenantResult[] = [];
    const view: JobView = {
      job_id: id,
      kind: 'migrate',
      status: 'running',
      request,
      created_at: new Date().toISOString(),
      finished_at: null,
      progress: { done: 0, total: null },
      summary: null,
      results,
      error: null,
    };
    const options: FleetOptions = {
      target: request.target,
      dryRun: request.dry_run,
      concurrency: request.concurrency,
      tenants: request.tenants,
      onlyFailed: request.only_failed,
      onProgress: (done, total, last) => {
        view.progress = { done, total };
        results.push(last);
        if (!request.dry_run) this.cache.invalidate(last.tenant_id);
      },
    };
    const { hosts, registry, tenantRunner } = this.core;
    const done = upgradeFleet(hosts, registry, tenantRunner, options).then(
      (report) => {
        view.results = report.results;
        view.progress = { done: report.total, total: report.total };
        view.summary = {
          total: report.total,
          upgraded: report.upgraded,
          up_to_date: report.up_to_date,
          would_upgrade: report.would_upgrade,
          failed: report.failed,
          duration_ms: report.duration_ms,
        };
        view.status = report.failed > 0 ? 'failed' : 'succeeded';
        view.finished_at = new Date().toISOString();
        if (!request.dry_run) for (const result of report.results) this.cache.invalidate(result.tenant_id);
      },
      (error: unknown) => {
        view.status = 'failed';
        view.error = describeError(error);
        view.finished_at = new Date().toISOString();
      },
    );
    this.jobs.set(id, { view, done });
    this.prune();
    return id;
  }

  get(id: string): JobView | undefined {
    return this.jobs.get(id)?.view;
  }

  /** Resolves when every running job has finished (app.close, tests). */
  async settle(): Promise<void> {
    await Promise.all([...this.jobs.values()].map((job) => job.done));
  }

  /** Drops the oldest finished jobs beyond MAX_JOBS; running ones are always kept. */
  private prune(): void {
    for (const [id, job] of this.jobs) {
      if (this.jobs.size <= MAX_JOBS) break;
      if (job.view.status !== 'running') this.jobs.delete(id);
    }
  }
}
