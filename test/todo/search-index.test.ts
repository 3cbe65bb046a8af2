/**
 * Search at 100k tasks uses the trigram index. The exact SQL the app runs for GET /tasks/?search=…
 * (from the same QueryTemplate, parameters included) is EXPLAINed on a tenant holding 100,000 tasks;
 * the test asserts the plan, never a time (SPEC 10: timings belong in benchmarks). With
 * TODO_EXPLAIN=1 the EXPLAIN (ANALYZE, BUFFERS) output is printed (docs/todo.md, BENCHMARKS.md).
 */
import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_HOST } from '../../src/db/hosts.ts';
import type { TaskFilters } from '../../src/routes/tasks/task-filters.ts';
import { taskPageStatement } from '../../src/routes/tasks/task-reads.ts';
import { LAST_POSITION } from '../../src/routes/tasks/tasks-repository.ts';
import { containsPattern } from '../../src/routes/users/users-repository.ts';
import { type TenantUsers, tenantWithUsers, usersApp } from '../helpers/tenant-users.ts';
import { caller, ok, type PageJson, type TaskJson } from './support.ts';

const TASKS = 100_000;
const context = await usersApp();
const { app } = context;
let users: TenantUsers;

beforeAll(async () => {
  users = await tenantWithUsers(context);
  const db = app.core.hosts.db(DEFAULT_HOST);
  // Raw SQL is not rewritten by withSchema: qualify by hand (a validated tenant id).
  const table = (name: string) => sql.table(`${users.tenant}.${name}`);
  // Data setup only (the API is tested elsewhere): 100k varied tasks in one statement. Triggers are off
  // for it (replica role): the change feed's capture would write 100k events at commit, which this
  // test of the search index does not need and which takes minutes on a loaded machine.
  await db.transaction().execute(async (trx) => {
    await sql`SET LOCAL session_replication_role = replica`.execute(trx);
    await sql`
    INSERT INTO ${table('tasks')} (title, description, status, priority, due_at, completed_at, position, author_id)
    SELECT 'Task ' || i || ' ' || left(md5(i::text), 10),
           'Details ' || md5((i * 7)::text) || ' for customer ' || (i % 977),
           (ARRAY['todo', 'in_progress', 'done'])[1 + i % 3],
           (ARRAY['low', 'medium', 'high', 'urgent'])[1 + i % 4],
           now() + ((i % 400) - 200) * interval '1 day',
           CASE WHEN i % 3 = 2 THEN now() END,
           i,
           (SELECT id FROM ${table('users')} WHERE uuid = ${users.owner.uuid})
      FROM generate_series(1, ${TASKS}) AS i`.execute(trx);
    // Three needles for an exact answer.
    await sql`UPDATE ${table('tasks')} SET description = description || ' INVOICE-77810'
             WHERE id IN (SELECT id FROM ${table('tasks')} ORDER BY id LIMIT 3 OFFSET 5000)`.execute(trx);
  });
  // Steady state, as autovacuum leaves it: statistics and the visibility map (index-only scans).
  await sql`VACUUM ANALYZE ${table('tasks')}`.execute(db);
}, 120_000);

/** The SQL and parameters the app runs for a listing with these filters. */
function listing(filters: TaskFilters, sort: 'created_at' | 'due_at'): Statement {
  return taskPageStatement(
    app.core.hosts.schemaDb(DEFAULT_HOST, users.tenant),
    users.tenant,
    { sort, order: 'asc' },
    { filters, offset: 0, limit: 50 },
  );
}

interface Statement {
  sql: string;
  parameters: readonly unknown[];
}

async function explain(query: Statement): Promise<string> {
  const result = await app.core.hosts
    .pool(DEFAULT_HOST)
    .query(`EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${query.sql}`, query.parameters as unknown[]);
  return result.rows.map((row: Record<string, string>) => row['QUERY PLAN']).join('\n');
}

describe('search at 100k tasks', () => {
  it('answers through HTTP with the right rows', async () => {
    const owner = caller(app, users.owner);
    const page = await ok<PageJson<TaskJson>>(owner('GET', '/tasks/?search=invoice-7781'));
    expect(page.total).toBe(3);
  });

  it('the search predicate is served by tasks_search_trgm_idx', async () => {
    const plan = await explain(listing({ searchPattern: containsPattern('invoice-7781') }, 'created_at'));
    if (process.env.TODO_EXPLAIN) console.log(plan);
    expect(plan).toContain('tasks_search_trgm_idx');
    expect(plan).not.toMatch(/Seq Scan on tasks/);
  });

  it('the benchmarked listing (status=todo, sort=due_at) reads the (status, due_at) index', async () => {
    const plan = await explain(listing({ status: ['todo'] }, 'due_at'));
    if (process.env.TODO_EXPLAIN) console.log(plan);
    expect(plan).toContain('tasks_status_due_idx');
  });

  it('a new task finds the end of a 100k-task inbox through the index, not by reading every task', async () => {
    const plan = await explain({ sql: LAST_POSITION(`${users.tenant}.tasks`, 'IS NULL'), parameters: [] });
    if (process.env.TODO_EXPLAIN) console.log(plan);
    expect(plan).toContain('Index Only Scan Backward using tasks_list_position_idx');
    expect(plan).not.toMatch(/Seq Scan on tasks/);
    const owner = caller(app, users.owner);
    const created = await ok<TaskJson>(
      owner('POST', '/tasks/', { title: 'After the hundred thousand' }),
      201,
    );
    expect(created.position).toBe(TASKS + 1);
  });
});
