#!/usr/bin/env node
/**
 * `tenantry` — the operator CLI (SPEC 5.4, 8). Run as `npm run tenantry -- <group> <command> [options]`
 * (or the built `tenantry` bin). The commands live in run.ts; this entry only sets the exit code.
 */
import { runTenantry } from './run.ts';

process.exitCode = await runTenantry(process.argv.slice(2));
