/**
 * Drag-and-drop reorder within a list: the moved task takes the `position` of the task it was dropped
 * on (the server opens that slot and shifts the tasks in between, docs/todo.md), and the page shows the
 * new order at once; on failure the page reloads the server's order.
 */
export interface Positioned {
  uuid: string;
  position: number;
}

/** The order after moving index `from` to index `to`, and the position to PATCH (null: no move). */
export function planMove<T extends Positioned>(
  items: readonly T[],
  from: number,
  to: number,
): { items: T[]; uuid: string; position: number } | null {
  if (from === to || from < 0 || to < 0 || from >= items.length || to >= items.length) return null;
  const moved = items[from]!;
  const target = items[to]!;
  const next = items.slice();
  next.splice(from, 1);
  next.splice(to, 0, moved);
  return { items: next, uuid: moved.uuid, position: target.position };
}
