/**
 * The signed-in person's own settings that change how pages look and behave: the theme (light, dark or
 * the system's) and how many tasks a page of the task list shows. Kept in localStorage too, so the
 * theme is right from the first paint, before GET /settings/me answers.
 */
import { reactive } from 'vue';

export type Theme = 'system' | 'light' | 'dark';
export interface Prefs {
  theme: Theme;
  tasks_page_size: number;
}

const KEY = 'tenantry.prefs';
export const DEFAULT_PREFS: Prefs = { theme: 'system', tasks_page_size: 50 };

/** Only known values count; anything else falls back to the default (a damaged or old entry). */
export function parsePrefs(value: unknown): Prefs {
  const raw = (value && typeof value === 'object' ? value : {}) as Partial<Record<keyof Prefs, unknown>>;
  const theme = ['system', 'light', 'dark'].includes(raw.theme as string)
    ? (raw.theme as Theme)
    : DEFAULT_PREFS.theme;
  const size = Number(raw.tasks_page_size);
  const tasks_page_size =
    Number.isInteger(size) && size >= 1 && size <= 100 ? size : DEFAULT_PREFS.tasks_page_size;
  return { theme, tasks_page_size };
}

function stored(): Prefs {
  try {
    return parsePrefs(JSON.parse(localStorage.getItem(KEY) ?? 'null'));
  } catch {
    return { ...DEFAULT_PREFS };
  }
}

export const prefs = reactive<Prefs>(stored());

/** `data-theme` on <html> picks the colour scheme (style.css); none: the system's. */
function applyTheme(theme: Theme) {
  if (theme === 'system') delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = theme;
}

export function setPrefs(value: unknown) {
  Object.assign(prefs, parsePrefs(value));
  localStorage.setItem(KEY, JSON.stringify(prefs));
  applyTheme(prefs.theme);
}

/** Signed out: the next person on this device starts from the defaults. */
export function resetPrefs() {
  localStorage.removeItem(KEY);
  Object.assign(prefs, DEFAULT_PREFS);
  applyTheme(prefs.theme);
}

applyTheme(prefs.theme);
