/** The small collections pages pick from (lists, tags, people): first 100 of each, enough for a picker. */
import { can } from '../lib/session.ts';
import { api, unwrap } from './client.ts';
import type { Tag, TaskList, User } from './types.ts';

export async function loadLists(archived = false): Promise<TaskList[]> {
  const query = { page: 1, size: 100, sort: 'position' as const, order: 'asc' as const, archived };
  return (await unwrap(api.GET('/lists/', { params: { query } }))).items;
}

export async function loadTags(): Promise<Tag[]> {
  const query = { page: 1, size: 100, order: 'asc' as const };
  return (await unwrap(api.GET('/tags/', { params: { query } }))).items;
}

/** People to assign; empty without USER_VIEW (the picker is then hidden). */
export async function loadUsers(): Promise<User[]> {
  if (!can('USER_VIEW')) return [];
  const query = { page: 1, size: 100, order: 'asc' as const, sort: 'last_name' as const };
  return (await unwrap(api.GET('/users/', { params: { query } }))).items;
}
