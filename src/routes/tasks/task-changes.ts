/**
 * What a PATCH changes, and the timeline events that record it — a pure function of the locked row and
 * the resolved patch, so the rules are visible in one place:
 *  - title, description, priority, due date, list, position and the tag set → one `updated` event with
 *    the changed fields only, before and after;
 *  - status → `status_changed` with status and completed_at (set on entering `done`, cleared on
 *    leaving it; a move between todo and in_progress leaves it null);
 *  - assignees added → `assigned`, removed → `unassigned` (the uuids concerned);
 *  - nothing different → no write and no event.
 */

import type { TaskPriority, TaskStatus } from './tables.ts';
import type { EventRow, LockedTask } from './tasks-repository.ts';

export interface Ref {
  id: string;
  uuid: string;
}

/** A PATCH with every uuid already resolved to a row of this tenant. */
export interface ResolvedPatch {
  list?: { id: string | null; uuid: string | null };
  title?: string;
  description?: string;
  status?: TaskStatus;
  priority?: TaskPriority;
  dueAt?: Date | null;
  position?: number;
  assignees?: Ref[];
  tags?: Ref[];
}

export interface PlannedChange {
  fields: {
    list_id?: string | null;
    title?: string;
    description?: string;
    priority?: TaskPriority;
    due_at?: Date | null;
    status?: TaskStatus;
  };
  /** `now`: entering done; `clear`: leaving done. */
  completion?: 'now' | 'clear';
  /** The list the task ends in changed, or its place in the same list did. */
  move?: { toList: string | null; position: number | undefined };
  assignees: { add: Ref[]; remove: Ref[] };
  tags: { add: Ref[]; remove: Ref[] };
  /** `updated` payload: changed fields before and after (position filled in once known). */
  updated: { before: Record<string, unknown>; after: Record<string, unknown> };
  /** Anything at all to write. */
  any: boolean;
}

const iso = (date: Date | null) => (date === null ? null : date.toISOString());

function setDiff(current: Ref[], wanted: Ref[]): { add: Ref[]; remove: Ref[] } {
  const have = new Set(current.map((ref) => ref.id));
  const want = new Set(wanted.map((ref) => ref.id));
  return {
    add: wanted.filter((ref) => !have.has(ref.id)),
    remove: current.filter((ref) => !want.has(ref.id)),
  };
}

const refsOf = (ids: string[], uuids: string[]): Ref[] => ids.map((id, i) => ({ id, uuid: uuids[i] ?? '' }));

export function planChange(task: LockedTask, patch: ResolvedPatch): PlannedChange {
  const fields: PlannedChange['fields'] = {};
  const before: Record<string, unknown> = {};
  const after: Record<string, unknown> = {};
  const record = (name: string, from: unknown, to: unknown) => {
    before[name] = from;
    after[name] = to;
  };

  if (patch.title !== undefined && patch.title !== task.title) {
    fields.title = patch.title;
    record('title', task.title, patch.title);
  }
  if (patch.description !== undefined && patch.description !== task.description) {
    fields.description = patch.description;
    record('description', task.description, patch.description);
  }
  if (patch.priority !== undefined && patch.priority !== task.priority) {
    fields.priority = patch.priority;
    record('priority', task.priority, patch.priority);
  }
  if (patch.dueAt !== undefined && iso(patch.dueAt) !== iso(task.due_at)) {
    fields.due_at = patch.dueAt;
    record('due_at', iso(task.due_at), iso(patch.dueAt));
  }

  let move: PlannedChange['move'];
  const listChanged = patch.list !== undefined && patch.list.id !== task.list_id;
  if (listChanged && patch.list) {
    fields.list_id = patch.list.id;
    record('list', task.list_uuid, patch.list.uuid);
    move = { toList: patch.list.id, position: patch.position };
  } else if (patch.position !== undefined && patch.position !== task.position) {
    move = { toList: task.list_id, position: patch.position };
  }
  if (move) record('position', task.position, null);

  let completion: PlannedChange['completion'];
  if (patch.status !== undefined && patch.status !== task.status) {
    fields.status = patch.status;
    if (patch.status === 'done') completion = 'now';
    else if (task.status === 'done') completion = 'clear';
  }

  const assignees = patch.assignees
    ? setDiff(refsOf(task.assignee_ids, task.assignee_uuids), patch.assignees)
    : { add: [], remove: [] };
  const tags = patch.tags
    ? setDiff(refsOf(task.tag_ids, task.tag_uuids), patch.tags)
    : { add: [], remove: [] };
  if (patch.tags && tags.add.length + tags.remove.length > 0) {
    record('tags', [...task.tag_uuids].sort(), patch.tags.map((tag) => tag.uuid).sort());
  }

  const any =
    Object.keys(fields).length > 0 ||
    move !== undefined ||
    assignees.add.length + assignees.remove.length + tags.add.length + tags.remove.length > 0;
  return { fields, completion, move, assignees, tags, updated: { before, after }, any };
}

/** The events of a planned change, given the values only the database knows (position, completed_at). */
export function eventsOf(
  task: LockedTask,
  plan: PlannedChange,
  result: { position: number; completed_at: Date | null },
): EventRow[] {
  const events: EventRow[] = [];
  if (Object.keys(plan.updated.after).length > 0) {
    if (plan.move) plan.updated.after.position = result.position;
    events.push({ action: 'updated', before: plan.updated.before, after: plan.updated.after });
  }
  if (plan.fields.status !== undefined) {
    events.push({
      action: 'status_changed',
      before: { status: task.status, completed_at: iso(task.completed_at) },
      after: { status: plan.fields.status, completed_at: iso(result.completed_at) },
    });
  }
  if (plan.assignees.add.length > 0)
    events.push({
      action: 'assigned',
      before: null,
      after: { assignees: plan.assignees.add.map((a) => a.uuid) },
    });
  if (plan.assignees.remove.length > 0)
    events.push({
      action: 'unassigned',
      before: { assignees: plan.assignees.remove.map((a) => a.uuid) },
      after: null,
    });
  return events;
}
