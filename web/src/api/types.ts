/** Names for the answer shapes the pages use, taken from the generated schema. */
import type { paths } from './schema.js';

type Json<T> = T extends { content: { 'application/json': infer Body } } ? Body : never;

export type Task = Json<paths['/tasks/{uuid}']['get']['responses'][200]>;
export type TaskQuery = NonNullable<paths['/tasks/']['get']['parameters']['query']>;
export type TaskList = Json<paths['/lists/{uuid}']['get']['responses'][200]>;
export type Tag = Json<paths['/tags/']['get']['responses'][200]>['items'][number];
export type User = Json<paths['/users/{uuid}']['get']['responses'][200]>;
export type Role = Json<paths['/roles/']['get']['responses'][200]>['items'][number];
export type Group = Json<paths['/groups/{uuid}']['get']['responses'][200]>;
export type GroupSummary = Json<paths['/groups/']['get']['responses'][200]>['items'][number];
export type Stats = Json<paths['/tasks/stats']['get']['responses'][200]>;
export type TaskEvent = Json<paths['/tasks/{uuid}/events']['get']['responses'][200]>['items'][number];
export type Comment = Json<paths['/tasks/{uuid}/comments']['get']['responses'][200]>['items'][number];
export type Tenant = Json<paths['/cc/tenants']['get']['responses'][200]>['items'][number];
/** A fleet migration job (GET /cc/jobs/{id} also answers tenant moves, `kind: 'move'`). */
export type Job = Extract<Json<paths['/cc/jobs/{id}']['get']['responses'][200]>, { kind: 'migrate' }>;
export type Migration = Json<paths['/cc/tenants/{id}/migrate']['post']['responses'][200]>;
export type Drift = Json<paths['/cc/drift']['get']['responses'][200]>;
export type Host = Json<paths['/cc/hosts']['get']['responses'][200]>['items'][number];

/** GET /tasks/ with the defaults the schema lists as required. */
export function taskQuery(query: Partial<TaskQuery>): TaskQuery {
  return { page: 1, size: 50, sort: 'position', order: 'asc', ...query };
}
