import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../src/package-root.js';

/** The compiled CLI, found from the package root whether this runs as TypeScript (vitest) or from dist/. */
export const CLI = join(packageRoot(), 'dist', 'src', 'cli', 'main.js');

/** The built CLI (`npm test` builds first; run `npm run build` before running a CLI test alone). */
export function cliPath(): string {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  return CLI;
}

/** Only what a user's shell would pass, so no AWS_* or bucket variable of the test runner leaks in. */
export function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'info', ...extra };
}

export interface RunningCli {
  child: ChildProcess;
  /** stdout lines parsed as JSON log events so far. */
  events: Record<string, unknown>[];
  stderr(): string;
  exit: Promise<number | null>;
}

/**
 * Spawns `file-transformer <args>` in `cwd`, collecting its JSON log lines: the built CLI under this
 * Node, or `bin` (an installed `file-transformer` executable, run as a user's shell would).
 */
export function startCli(args: string[], env: Record<string, string>, cwd: string, bin?: string): RunningCli {
  const [command, commandArgs] = bin ? [bin, args] : [process.execPath, [cliPath(), ...args]];
  const child = spawn(command, commandArgs, { cwd, env: cleanEnv(env), stdio: 'pipe' });
  const events: Record<string, unknown>[] = [];
  let err = '';
  let partial = '';
  child.stdout!.on('data', (d: Buffer) => {
    const lines = (partial + d.toString('utf8')).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      try {
        events.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not a log event
      }
    }
  });
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString('utf8');
  });
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, events, stderr: () => err, exit };
}

/** Runs a CLI command to completion. */
export async function runCli(
  args: string[],
  env: Record<string, string>,
  cwd: string,
  bin?: string,
): Promise<{ code: number | null; stdout: Record<string, unknown>[]; stderr: string }> {
  const cli = startCli(args, env, cwd, bin);
  const code = await cli.exit;
  return { code, stdout: cli.events, stderr: cli.stderr() };
}

/**
 * Runs `file-transformer <args>` to completion with `stdin` as its input, collecting stdout and stderr
 * as text. `env` replaces the environment (as cleanEnv); the test runner's is inherited without it.
 */
export function runCliText(
  args: string[],
  options: { cwd: string; env?: Record<string, string>; stdin?: Buffer | string },
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const env = options.env ? cleanEnv(options.env) : process.env;
    const child = spawn(process.execPath, [cliPath(), ...args], { cwd: options.cwd, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.stdin ?? '');
  });
}
