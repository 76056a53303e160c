/**
 * Migrations are listed in code rather than discovered on disk, so they run the same under
 * tsx, jest and compiled output. Two sets with their own bookkeeping tables: the application
 * schema (development and tests only) and Lethe's own (everywhere).
 */
import type { Knex } from 'knex';
import * as app001 from './app/001_application_schema';
import * as app002 from './app/002_inactivity_index';
import * as lethe001 from './lethe/001_lethe_schema';
import * as lethe002 from './lethe/002_sweeps';
import * as lethe003 from './lethe/003_sweep_candidate_started';
import * as lethe004 from './lethe/004_operator_actions';
import * as lethe005 from './lethe/005_audit_log';
import { sealedSubjects, type SubjectSealer } from './lethe/006_sealed_subjects';
import * as lethe007 from './lethe/007_deleted_email_hashes';
import * as lethe008 from './lethe/008_free_text_retention';
import * as lethe009 from './lethe/009_front_door';
import * as lethe010 from './lethe/010_console';
import * as lethe011 from './lethe/011_holds';
import * as lethe015 from './lethe/015_correction_requests';
import * as lethe013 from './lethe/013_inactivity_notices';
import * as lethe012 from './lethe/012_store_state';
import * as lethe014 from './lethe/014_access_requests';

type Migration = { up(k: Knex): Promise<void>; down(k: Knex): Promise<void> };

function source(migrations: Record<string, Migration>): Knex.MigrationSource<string> {
  return {
    getMigrations: async () => Object.keys(migrations).sort(),
    getMigrationName: (name) => name,
    getMigration: async (name) => migrations[name],
  };
}

/**
 * Runs a migration with `public` alone on the search path. The embedded database's role is
 * named `lethe`, so PostgreSQL's default path (`"$user", public`) puts schema `lethe` first
 * once it exists: a second stack migrating an existing database would otherwise find no
 * bookkeeping table there and create every application table again inside schema `lethe`.
 */
function inPublic(m: Migration): Migration {
  return {
    // Each migration runs in its own transaction, so `set local` ends with it.
    up: async (k) => {
      await k.raw('set local search_path to public');
      await m.up(k);
    },
    down: async (k) => {
      await k.raw('set local search_path to public');
      await m.down(k);
    },
  };
}

export async function migrateApplicationSchema(knex: Knex): Promise<void> {
  await knex.migrate.latest({
    // 002 is an index the app team must also create in production (see its file).
    migrationSource: source({ '001_application_schema': inPublic(app001), '002_inactivity_index': inPublic(app002) }),
    schemaName: 'public',
    tableName: 'knex_migrations_app',
  });
}

/**
 * `sealSubject`: how migration 006 seals deletion subjects captured before it (the worker passes
 * it, with its keys); without it, 006 refuses a table that holds rows.
 */
export async function migrateLetheSchema(knex: Knex, opts: { sealSubject?: SubjectSealer } = {}): Promise<void> {
  await knex.raw('create schema if not exists lethe');
  await knex.migrate.latest({
    migrationSource: source({
      '001_lethe_schema': lethe001,
      '002_sweeps': lethe002,
      '003_sweep_candidate_started': lethe003,
      '004_operator_actions': lethe004,
      '005_audit_log': lethe005,
      '006_sealed_subjects': sealedSubjects(opts.sealSubject),
      '007_deleted_email_hashes': lethe007,
      '008_free_text_retention': lethe008,
      '009_front_door': lethe009,
      '010_console': lethe010,
      '011_holds': lethe011,
      '015_correction_requests': lethe015,
      '013_inactivity_notices': lethe013,
      '012_store_state': lethe012,
      '014_access_requests': lethe014,
    }),
    schemaName: 'lethe',
    tableName: 'knex_migrations',
  });
}
