/** One line of a task's timeline, in words, from a task_events row. */
import type { TaskEvent } from '../api/types.ts';

const FIELD_NAMES: Record<string, string> = {
  title: 'title',
  description: 'description',
  priority: 'priority',
  due_at: 'due date',
  list_uuid: 'list',
  position: 'position',
  tags: 'tags',
};

export function describeEvent(event: TaskEvent): string {
  const who = event.actor ? `${event.actor.first_name} ${event.actor.last_name}`.trim() : 'Someone';
  const after = (event.after ?? {}) as Record<string, unknown>;
  switch (event.action) {
    case 'created':
      return `${who} created the task`;
    case 'status_changed':
      return `${who} set the status to ${String(after.status ?? '?').replace('_', ' ')}`;
    case 'updated': {
      const fields = Object.keys(after).map((key) => FIELD_NAMES[key] ?? key);
      return `${who} changed the ${fields.length ? fields.join(', ') : 'task'}`;
    }
    case 'assigned':
      return `${who} assigned ${countOf(after)}`;
    case 'unassigned':
      return `${who} unassigned ${countOf(event.before as Record<string, unknown> | null)}`;
    case 'commented':
      if (!event.before) return `${who} commented`;
      return event.after ? `${who} edited a comment` : `${who} deleted a comment`;
    case 'deleted':
      return `${who} moved the task to the trash`;
    case 'restored':
      return `${who} restored the task`;
    default:
      return `${who}: ${String(event.action)}`;
  }
}

function countOf(value: Record<string, unknown> | null): string {
  const users = value && Array.isArray(value.assignees) ? value.assignees.length : 0;
  return users === 1 ? 'one person' : users > 1 ? `${users} people` : 'people';
}
