/**
 * The settings whitelist (SPEC 3.2): every key that exists, its type and its default, in code. The
 * `settings` table stores only values that differ from a default; an unknown key or a wrong type is a
 * 400 from the schema, before anything is stored. Adding a key = one line in a schema and one default.
 */
import { type Static, Type } from 'typebox';
import { Lang, TimeZone } from '../auth/schemas.ts';

const WeekStart = Type.Union([Type.Literal('monday'), Type.Literal('sunday')]);

/** Tenant-wide settings (PUT needs SETTINGS_MANAGE). */
export const TenantSettingsSchema = Type.Object({
  default_tz: TimeZone,
  default_lang: Lang,
  week_start: WeekStart,
  default_task_priority: Type.Union([
    Type.Literal('low'),
    Type.Literal('medium'),
    Type.Literal('high'),
    Type.Literal('urgent'),
  ]),
});
export type TenantSettings = Static<typeof TenantSettingsSchema>;

export const TENANT_DEFAULTS: TenantSettings = {
  default_tz: 'UTC',
  default_lang: 'en',
  week_start: 'monday',
  default_task_priority: 'medium',
};

/** Each user's own settings. */
export const UserSettingsSchema = Type.Object({
  theme: Type.Union([Type.Literal('system'), Type.Literal('light'), Type.Literal('dark')]),
  email_notifications: Type.Boolean(),
  /** null: follow the tenant's week_start. */
  week_start: Type.Union([WeekStart, Type.Null()]),
  tasks_page_size: Type.Integer({ minimum: 10, maximum: 100 }),
});
export type UserSettings = Static<typeof UserSettingsSchema>;

export const USER_DEFAULTS: UserSettings = {
  theme: 'system',
  email_notifications: true,
  week_start: null,
  tasks_page_size: 50,
};
