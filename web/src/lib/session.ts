/**
 * Who is signed in. "Remember me" asks the server for a 30-day session (`permanent`) and keeps the
 * token in localStorage; otherwise it lives in sessionStorage and ends with the tab.
 */
import { computed, reactive } from 'vue';

export interface SessionData {
  token: string;
  tenant: string;
  expiresAt: string;
  user: { uuid: string; email: string; first_name: string; last_name: string };
  role: { uuid: string; name: string; title: string };
  permissions: string[];
}

const KEY = 'tenantry.session';

function load(): SessionData | null {
  for (const storage of [sessionStorage, localStorage]) {
    const raw = storage.getItem(KEY);
    if (!raw) continue;
    try {
      const data = JSON.parse(raw) as SessionData;
      if (Date.parse(data.expiresAt) > Date.now()) return data;
    } catch {
      // A damaged entry is as good as none.
    }
    storage.removeItem(KEY);
  }
  return null;
}

export const session = reactive<{ data: SessionData | null }>({ data: load() });

export const signedIn = computed(() => session.data !== null);

export function can(permission: string): boolean {
  return session.data?.permissions.includes(permission) ?? false;
}

interface AuthAnswer {
  auth_token: string;
  expires_at: string;
  tenant_id: string;
  user: SessionData['user'];
  role: SessionData['role'];
  permissions: string[];
}

export function startSession(answer: AuthAnswer, remember: boolean) {
  const data: SessionData = {
    token: answer.auth_token,
    tenant: answer.tenant_id,
    expiresAt: answer.expires_at,
    user: answer.user,
    role: answer.role,
    permissions: answer.permissions,
  };
  endSession();
  (remember ? localStorage : sessionStorage).setItem(KEY, JSON.stringify(data));
  session.data = data;
}

/** After /auth/me: the role or permissions may have changed since sign-in. */
export function refreshSession(me: Pick<AuthAnswer, 'user' | 'role' | 'permissions'>) {
  if (!session.data) return;
  const data = { ...session.data, user: me.user, role: me.role, permissions: me.permissions };
  const storage = localStorage.getItem(KEY) ? localStorage : sessionStorage;
  storage.setItem(KEY, JSON.stringify(data));
  session.data = data;
}

export function endSession() {
  localStorage.removeItem(KEY);
  sessionStorage.removeItem(KEY);
  session.data = null;
}
