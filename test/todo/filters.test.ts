/**
 * Every filter and sort of GET /tasks/, alone and combined, against a seeded data set whose answers are
 * known: each expectation is computed from the seed table below by plain JavaScript (an oracle
 * independent of the SQL), plus a few literal answers. Also pagination totals, stats and the export.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { type TenantUsers, tenantWithUsers, usersApp } from '../helpers/tenant-users.ts';
import {
  type Call,
  caller,
  createList,
  createTag,
  createTask,
  ok,
  type PageJson,
  type TaskJson,
} from './support.ts';

type Who = 'owner' | 'member';
interface Seed {
  n: number;
  title: string;
  description: string;
  list: 'A' | 'B' | null;
  status: 'todo' | 'in_progress' | 'done';
  priority: 'low' | 'medium' | 'high' | 'urgent';
  due: string | null;
  assignees: Who[];
  tags: Array<'red' | 'blue'>;
}

// biome-ignore format: a table reads best as a table
const SEED: Seed[] = [
  { n: 1, title: 'Alpha report', description: 'quarterly numbers', list: 'A', status: 'todo', priority: 'high', due: '2020-01-10T00:00:00.000Z', assignees: ['owner'], tags: ['red'] },
  { n: 2, title: 'Beta launch', description: 'marketing plan', list: 'A', status: 'in_progress', priority: 'urgent', due: '2099-05-01T00:00:00.000Z', assignees: ['member'], tags: ['red', 'blue'] },
  { n: 3, title: 'Gamma cleanup', description: 'remove dead code', list: 'B', status: 'done', priority: 'low', due: '2020-02-01T00:00:00.000Z', assignees: [], tags: ['blue'] },
  { n: 4, title: 'Delta review', description: 'code review for ALPHA', list: 'B', status: 'todo', priority: 'medium', due: null, assignees: ['owner', 'member'], tags: [] },
  { n: 5, title: 'Epsilon deploy', description: 'redeployment of the API', list: null, status: 'todo', priority: 'urgent', due: '2099-01-01T00:00:00.000Z', assignees: [], tags: [] },
  { n: 6, title: 'Zeta notes', description: '', list: null, status: 'done', priority: 'high', due: null, assignees: ['member'], tags: ['red'] },
  { n: 7, title: 'Eta budget', description: 'Budget 100%_done', list: 'A', status: 'todo', priority: 'low', due: '2020-03-15T00:00:00.000Z', assignees: [], tags: ['blue'] },
  { n: 8, title: 'Theta invoice', description: 'INV-2041', list: 'B', status: 'in_progress', priority: 'medium', due: '2099-12-31T00:00:00.000Z', assignees: ['owner'], tags: [] },
];
const RANK = { low: 1, medium: 2, high: 3, urgent: 4 } as const;
const POSITION: Record<number, number> = { 1: 1, 2: 2, 7: 3, 3: 1, 4: 2, 8: 3, 5: 1, 6: 2 };

const context = await usersApp();
const { app } = context;
let users: TenantUsers;
let owner: Call;
const lists: Record<'A' | 'B', string> = { A: '', B: '' };
const tags: Record<'red' | 'blue', string> = { red: '', blue: '' };
const uuidOf = new Map<number, string>();
const numberOf = new Map<string, number>();

beforeAll(async () => {
  users = await tenantWithUsers(context);
  owner = caller(app, users.owner);
  lists.A = (await createList(owner, 'A')).uuid;
  lists.B = (await createList(owner, 'B')).uuid;
  tags.red = (await createTag(owner, 'red')).uuid;
  tags.blue = (await createTag(owner, 'blue')).uuid;
  for (const seed of SEED) {
    const task = await createTask(owner, {
      title: seed.title,
      description: seed.description,
      list_uuid: seed.list ? lists[seed.list] : null,
      status: seed.status,
      priority: seed.priority,
      due_at: seed.due,
      assignees: seed.assignees.map((who) => users[who].uuid),
      tags: seed.tags.map((tag) => tags[tag]),
    });
    uuidOf.set(seed.n, task.uuid);
    numberOf.set(task.uuid, seed.n);
  }
  // A deleted task matches many filters and must never show up outside the trash.
  const gone = await createTask(owner, { title: 'Alpha deleted', priority: 'urgent', tags: [tags.red] });
  await ok(owner('DELETE', `/tasks/${gone.uuid}`), 204);
});

async function numbers(query: string): Promise<number[]> {
  const page = await ok<PageJson<TaskJson>>(owner('GET', `/tasks/?size=100&${query}`));
  expect(page.total).toBe(page.items.length);
  return page.items.map((task) => numberOf.get(task.uuid) ?? -1);
}

const byNumber = (predicate: (seed: Seed) => boolean) =>
  SEED.filter(predicate)
    .map((seed) => seed.n)
    .sort((a, b) => a - b);
const now = Date.now();
const overdue = (seed: Seed) => seed.due !== null && Date.parse(seed.due) < now && seed.status !== 'done';

describe('filters alone', () => {
  const cases: Array<[string, () => string, (seed: Seed) => boolean, number[]]> = [
    ['list A', () => `list=${lists.A}`, (s) => s.list === 'A', [1, 2, 7]],
    ['inbox', () => 'list=inbox', (s) => s.list === null, [5, 6]],
    ['status todo', () => 'status=todo', (s) => s.status === 'todo', [1, 4, 5, 7]],
    [
      'status todo or done',
      () => 'status=todo&status=done',
      (s) => s.status !== 'in_progress',
      [1, 3, 4, 5, 6, 7],
    ],
    ['priority urgent', () => 'priority=urgent', (s) => s.priority === 'urgent', [2, 5]],
    [
      'assignee member',
      () => `assignee=${users.member.uuid}`,
      (s) => s.assignees.includes('member'),
      [2, 4, 6],
    ],
    ['assignee me (owner)', () => 'assignee=me', (s) => s.assignees.includes('owner'), [1, 4, 8]],
    ['tag red', () => `tag=${tags.red}`, (s) => s.tags.includes('red'), [1, 2, 6]],
    ['tag red or blue', () => `tag=${tags.red}&tag=${tags.blue}`, (s) => s.tags.length > 0, [1, 2, 3, 6, 7]],
    [
      'due_before',
      () => 'due_before=2021-01-01T00:00:00Z',
      (s) => s.due !== null && s.due < '2021-01-01',
      [1, 3, 7],
    ],
    [
      'due_after (inclusive)',
      () => 'due_after=2099-01-01T00:00:00Z',
      (s) => s.due !== null && s.due >= '2099-01-01',
      [2, 5, 8],
    ],
    ['overdue', () => 'overdue=true', overdue, [1, 7]],
    ['not overdue', () => 'overdue=false', (s) => !overdue(s), [2, 3, 4, 5, 6, 8]],
    [
      'search in title and description, any case',
      () => 'search=alpha',
      (s) => /alpha/i.test(s.title + s.description),
      [1, 4],
    ],
    [
      'search a substring inside a word',
      () => 'search=DEPLOY',
      (s) => /deploy/i.test(s.title + s.description),
      [5],
    ],
    [
      'search with % and _ taken literally',
      () => `search=${encodeURIComponent('100%_')}`,
      (s) => s.n === 7,
      [7],
    ],
    ['search without match', () => 'search=nothing-like-this', () => false, []],
  ];
  for (const [name, query, predicate, literal] of cases) {
    it(name, async () => {
      expect(byNumber(predicate)).toEqual(literal);
      expect((await numbers(query())).sort((a, b) => a - b)).toEqual(literal);
    });
  }

  it('the trash lists only deleted tasks', async () => {
    const trash = await ok<PageJson<TaskJson>>(owner('GET', '/tasks/?deleted=true'));
    expect(trash.items.map((t) => t.title)).toEqual(['Alpha deleted']);
  });
});

describe('filters combined', () => {
  it('list + tag + status', async () => {
    expect(await numbers(`list=${lists.A}&tag=${tags.red}&status=todo`)).toEqual([1]);
  });
  it('a due window: due_after inclusive, due_before exclusive', async () => {
    const got = await numbers('due_after=2020-02-01T00:00:00Z&due_before=2099-05-01T00:00:00Z');
    expect(got.sort((a, b) => a - b)).toEqual([3, 5, 7]);
  });
  it('assignee + priority + not overdue + search', async () => {
    expect(
      await numbers(`assignee=${users.member.uuid}&priority=urgent&overdue=false&search=launch`),
    ).toEqual([2]);
  });
  it('status + tag + list (inbox) giving nothing', async () => {
    expect(await numbers(`list=inbox&status=todo&tag=${tags.red}`)).toEqual([]);
  });
});

type SortKey = 'created_at' | 'due_at' | 'priority' | 'title' | 'position';
function expectedOrder(sort: SortKey, order: 'asc' | 'desc', subset: Seed[] = SEED): number[] {
  const key = (seed: Seed): string | number | null => {
    switch (sort) {
      case 'created_at':
        return seed.n;
      case 'due_at':
        return seed.due;
      case 'priority':
        return RANK[seed.priority];
      case 'title':
        return seed.title;
      case 'position':
        return POSITION[seed.n]!;
    }
  };
  const sign = order === 'asc' ? 1 : -1;
  return [...subset]
    .sort((a, b) => {
      const [ka, kb] = [key(a), key(b)];
      if (ka === null || kb === null) {
        if (ka !== kb) return ka === null ? 1 : -1; // no due date: last in both directions
      } else if (ka !== kb) return (ka < kb ? -1 : 1) * sign;
      return (a.n - b.n) * sign;
    })
    .map((seed) => seed.n);
}

describe('sorts', () => {
  for (const sort of ['created_at', 'due_at', 'priority', 'title', 'position'] as const) {
    for (const order of ['asc', 'desc'] as const) {
      it(`${sort} ${order}`, async () => {
        expect(await numbers(`sort=${sort}&order=${order}`)).toEqual(expectedOrder(sort, order));
      });
    }
  }

  it('literal answers: due_at asc puts dateless tasks last, priority desc starts with the urgent ones', async () => {
    expect(await numbers('sort=due_at&order=asc')).toEqual([1, 3, 7, 5, 2, 8, 4, 6]);
    expect(await numbers('sort=due_at&order=desc')).toEqual([8, 2, 5, 7, 3, 1, 6, 4]);
    expect(await numbers('sort=priority&order=desc')).toEqual([5, 2, 6, 1, 8, 4, 7, 3]);
  });

  it('the benchmarked query: status=todo sorted by due date', async () => {
    const todo = SEED.filter((s) => s.status === 'todo');
    expect(await numbers('status=todo&sort=due_at')).toEqual(expectedOrder('due_at', 'asc', todo));
    expect(await numbers('status=todo&sort=due_at')).toEqual([1, 7, 5, 4]);
  });

  it('refuses a sort outside the whitelist and a bad order', async () => {
    for (const query of ['sort=author_id', 'sort=title;DROP TABLE tasks', 'order=sideways']) {
      const response = await owner('GET', `/tasks/?${query}`);
      expect(response.statusCode).toBe(400);
      expect(response.headers['content-type']).toContain('application/problem+json');
    }
  });
});

describe('pagination', () => {
  it('pages through a sorted result with the right totals', async () => {
    const all = expectedOrder('title', 'asc');
    const seen: number[] = [];
    for (const pageNo of [1, 2, 3]) {
      const page = await ok<PageJson<TaskJson>>(owner('GET', `/tasks/?sort=title&size=3&page=${pageNo}`));
      expect(page).toMatchObject({ total: 8, page: pageNo, size: 3, pages: 3 });
      seen.push(...page.items.map((t) => numberOf.get(t.uuid)!));
    }
    expect(seen).toEqual(all);
    const beyond = await ok<PageJson<TaskJson>>(owner('GET', '/tasks/?sort=title&size=3&page=4'));
    expect(beyond).toMatchObject({ items: [], total: 8, page: 4, pages: 3 });
    const filtered = await ok<PageJson<TaskJson>>(owner('GET', '/tasks/?status=todo&size=3&page=2'));
    expect(filtered).toMatchObject({ total: 4, pages: 2 });
    expect(filtered.items).toHaveLength(1);
  });
});

describe('stats', () => {
  it('counts by status and priority, overdue, and completions per day', async () => {
    const stats = await ok<{
      by_status: Record<string, number>;
      by_priority: Record<string, number>;
      overdue: number;
      total: number;
      completed_per_day: Array<{ date: string; count: number }>;
      to: string;
    }>(owner('GET', '/tasks/stats'));
    expect(stats.by_status).toEqual({ todo: 4, in_progress: 2, done: 2 });
    expect(stats.by_priority).toEqual({ low: 2, medium: 2, high: 2, urgent: 2 });
    expect(stats.overdue).toBe(2);
    expect(stats.total).toBe(8);
    expect(stats.completed_per_day).toHaveLength(30);
    expect(stats.completed_per_day.at(-1)).toEqual({ date: stats.to, count: 2 });
    expect(stats.completed_per_day.reduce((sum, day) => sum + day.count, 0)).toBe(2);

    const listOnly = await ok<{ by_status: Record<string, number> }>(
      owner('GET', `/tasks/stats?list=${lists.B}`),
    );
    expect(listOnly.by_status).toEqual({ todo: 1, in_progress: 1, done: 1 });
    const past = await ok<{ completed_per_day: Array<{ count: number }> }>(
      owner('GET', '/tasks/stats?from=2020-01-01&to=2020-01-31'),
    );
    expect(past.completed_per_day).toHaveLength(31);
    expect(past.completed_per_day.every((day) => day.count === 0)).toBe(true);
  });

  it('refuses a reversed or too long range', async () => {
    expect((await owner('GET', '/tasks/stats?from=2024-02-01&to=2024-01-01')).statusCode).toBe(422);
    expect((await owner('GET', '/tasks/stats?from=2020-01-01&to=2024-01-01')).statusCode).toBe(422);
    expect((await owner('GET', '/tasks/stats?from=2024-13-01')).statusCode).toBe(400);
  });
});

describe('export', () => {
  it('streams the filtered tasks as CSV', async () => {
    const response = await owner('GET', `/tasks/export?list=${lists.A}`);
    expect(response.statusCode, response.body).toBe(200);
    expect(response.headers['content-type']).toContain('text/csv');
    const lines = response.body
      .replace(/^\uFEFF/, '')
      .trim()
      .split('\r\n');
    expect(lines[0]).toBe(
      'uuid;list;title;description;status;priority;due_at;completed_at;position;author;assignees;tags;created_at;updated_at',
    );
    expect(lines).toHaveLength(4);
    const beta = lines.find((line) => line.startsWith(uuidOf.get(2)!));
    expect(beta).toContain(';A;Beta launch;marketing plan;in_progress;urgent;2099-05-01T00:00:00.000Z;;2;');
    expect(beta).toContain(`;${users.member.email};blue, red;`);
  });

  it('neutralises cells a spreadsheet would run as formulas', async () => {
    const other = caller(app, (await tenantWithUsers(context)).owner);
    await createTask(other, { title: '=HYPERLINK("http://evil")', description: 'a;b' });
    const body = (await other('GET', '/tasks/export')).body;
    expect(body).toContain(`;"'=HYPERLINK(""http://evil"")";"a;b";`);
  });
});
