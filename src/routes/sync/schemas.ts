/** Shapes of `GET /sync` (docs/integrations.md, "Change feed"). */
import { Type } from 'typebox';

export const SyncQuery = Type.Object({
  cursor: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 64,
      description: 'The `cursor` of the previous answer; absent: from the beginning of the retained log',
    }),
  ),
  limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100, description: 'Events per page (at most)' }),
});

/** `data` and `before`/`after` depend on the entity (docs/integrations.md lists the fields). */
const Json = Type.Unknown();

export const FeedEventBody = Type.Object(
  {
    id: Type.String({ description: 'Number of the event in this tenant’s log; use it to drop duplicates' }),
    type: Type.String({ examples: ['task.status_changed'] }),
    entity: Type.String({ description: 'task, list, tag, comment, user, group or setting' }),
    key: Type.String({ description: 'The entity’s uuid; for a setting `<user uuid | tenant>:<key>`' }),
    action: Type.String({ examples: ['created', 'updated', 'deleted', 'restored', 'assigned'] }),
    actor_uuid: Type.Union([Type.String(), Type.Null()]),
    occurred_at: Type.String({ format: 'date-time' }),
    before: Json,
    after: Json,
    data: Type.Unknown({ description: 'The entity as committed by this change; null once deleted for good' }),
  },
  { additionalProperties: false },
);

export const SyncPage = Type.Object(
  {
    items: Type.Array(FeedEventBody),
    cursor: Type.String({ description: 'Opaque; pass it as `cursor` next time' }),
    has_more: Type.Boolean({ description: 'true: ask again at once with the new cursor' }),
  },
  {
    additionalProperties: false,
    examples: [
      {
        items: [
          {
            id: '42',
            type: 'task.created',
            entity: 'task',
            key: '0b6f3f4e-8a1d-4c55-9b0e-1f7f2a6d9c31',
            action: 'created',
            actor_uuid: '5d2c9a7e-3f1b-4e6a-8c0d-9b8a7f6e5d4c',
            occurred_at: '2026-12-03T17:05:11.204Z',
            before: null,
            after: { title: 'Ship it', status: 'todo' },
            data: { uuid: '0b6f3f4e-8a1d-4c55-9b0e-1f7f2a6d9c31', title: 'Ship it', status: 'todo' },
          },
        ],
        cursor: 'YzEuNDI',
        has_more: false,
      },
    ],
  },
);
