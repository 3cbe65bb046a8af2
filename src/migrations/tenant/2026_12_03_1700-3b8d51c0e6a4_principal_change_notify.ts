/**
 * Every change that alters who a session is, or what it may do, NOTIFYs the registry channel in the
 * same transaction (so at commit, never before), for the principal cache (src/auth/principal-cache.ts)
 * of every server process:
 *  - `principal:<schema>:<user id>` when a session of the user is revoked, expires or is deleted, or when
 *    the user's row changes in a way a principal shows (profile, role, deactivation, deletion);
 *  - `principal:<schema>` when a role or the permissions of roles change (every user of the tenant).
 *
 * Triggers rather than calls in the code: every path that writes these rows (HTTP routes, the CLI, the
 * clean-up, an operator's SQL) invalidates, and no code path can forget to. `last_seen_at` is not in the
 * UPDATE OF list, so the background refresh of it notifies nothing. The schema name comes from the
 * trigger (TG_TABLE_SCHEMA), so a schema renamed after creation (the warm pool) notifies its new name.
 * The channel name is src/tenancy/registry.ts's REGISTRY_CHANNEL.
 */
export const description = 'NOTIFY principal changes (sessions, users, roles, role permissions)';
export const follows = '7f315a3921b2';

export const up = `
CREATE FUNCTION principal_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  who text;
BEGIN
  IF TG_LEVEL = 'ROW' AND TG_TABLE_NAME = 'users' THEN
    who := OLD.id::text;
  ELSIF TG_LEVEL = 'ROW' AND TG_TABLE_NAME = 'sessions' THEN
    who := OLD.user_id::text;
  END IF;
  PERFORM pg_notify('tenantry_registry', 'principal:' || TG_TABLE_SCHEMA || coalesce(':' || who, ''));
  RETURN NULL;
END $$;

CREATE TRIGGER principal_changed AFTER UPDATE OF token_hash, user_id, expires_at, revoked_at OR DELETE
  ON sessions FOR EACH ROW EXECUTE FUNCTION principal_changed();

CREATE TRIGGER principal_changed
  AFTER UPDATE OF email, first_name, last_name, tz, lang, role_id, is_active, deleted_at OR DELETE
  ON users FOR EACH ROW EXECUTE FUNCTION principal_changed();

CREATE TRIGGER principal_changed AFTER UPDATE OR DELETE OR TRUNCATE
  ON roles FOR EACH STATEMENT EXECUTE FUNCTION principal_changed();

CREATE TRIGGER principal_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
  ON role_permissions FOR EACH STATEMENT EXECUTE FUNCTION principal_changed();

CREATE TRIGGER principal_changed AFTER UPDATE OR DELETE OR TRUNCATE
  ON permissions FOR EACH STATEMENT EXECUTE FUNCTION principal_changed();
`;

export const down = `
DROP TRIGGER principal_changed ON permissions;

DROP TRIGGER principal_changed ON role_permissions;

DROP TRIGGER principal_changed ON roles;

DROP TRIGGER principal_changed ON users;

DROP TRIGGER principal_changed ON sessions;

DROP FUNCTION principal_changed();
`;
