/**
 * The real service as a child process (`node dist/src/cli/main.js serve`, what `npm start` runs), for
 * tests and benchmarks that kill it, restart it or measure its memory. Needs `npm run build` first.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { S3RVER_CREDENTIALS } from '../../src/storage/embedded-s3.js';
import { CLI, cliPath } from './cli.js';

export { CLI };

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** Environment for a service on an S3-compatible endpoint with s3rver's credentials, scan only. */
export function serviceEnv(options: {
  endpoint: string;
  dataDir: string;
  sourceBucket?: string;
  targetBucket?: string;
}): Record<string, string> {
  return {
    S3_ENDPOINT: options.endpoint,
    SOURCE_BUCKET: options.sourceBucket ?? 'xml-bucket',
    TARGET_BUCKET: options.targetBucket ?? 'json-bucket',
    AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    AWS_REGION: 'us-east-1',
    DATA_DIR: options.dataDir,
    HOST: '127.0.0.1',
    EVENTS: 'false',
    LOG_LEVEL: 'warn',
  };
}

export interface ServeProcess {
  child: ChildProcess;
  /** `http://127.0.0.1:<port>` of its API. */
  url: string;
  /** Everything it wrote (stdout and stderr), for diagnostics. */
  output: string[];
  /** SIGTERM (graceful stop) and wait for the exit; returns the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL (a crash) and wait for the exit. */
  kill(): Promise<void>;
}

/** Starts `serve` with `env` (plus PATH and a free PORT) and waits until its API answers. */
export async function spawnServe(env: Record<string, string>, timeoutMs = 30_000): Promise<ServeProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [cliPath(), 'serve'], {
    env: { PATH: process.env.PATH, ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stdout!.on('data', (d: Buffer) => output.push(d.toString()));
  child.stderr!.on('data', (d: Buffer) => output.push(d.toString()));
  const exited = once(child, 'exit');
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`serve exited with ${child.exitCode}:\n${output.join('')}`);
    if ((await fetch(`${url}/health/live`).catch(() => null))?.ok) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`serve did not answer within ${timeoutMs} ms:\n${output.join('')}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    child,
    url,
    output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      return child.exitCode;
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Peak resident set (VmHWM) of a live process in MiB; null once it has exited. */
export async function peakRssMiB(pid: number): Promise<number | null> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = /VmHWM:\s+(\d+)\s+kB/.exec(status)?.[1];
    return kb ? Number(kb) / 1024 : null;
  } catch {
    return null;
  }
}

/** CPU seconds (user + system) a live process has used so far; null once it has exited. */
export async function cpuSeconds(pid: number, thread?: number): Promise<number | null> {
  try {
    const path = thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`;
    const stat = await readFile(path, 'utf8');
    // Fields after the command name (which may contain spaces, so split after its closing paren):
    // utime and stime are the 14th and 15th fields overall, in clock ticks (100 per second on Linux).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

/**
 * Follows a process while it runs: its peak RSS (VmHWM, which only grows) and the CPU seconds it has
 * used, in all and on its main thread alone. `stop()` returns the last values seen (sampled every
 * 100 ms).
 */
export function trackProcess(pid: number): {
  stop(): { peakMiB: number; cpuSeconds: number; mainThreadCpuSeconds: number };
} {
  let peakMiB = 0;
  let cpu = 0;
  let mainThreadCpu = 0;
  const timer = setInterval(async () => {
    const [rss, used, mainUsed] = await Promise.all([peakRssMiB(pid), cpuSeconds(pid), cpuSeconds(pid, pid)]);
    if (rss !== null) peakMiB = Math.max(peakMiB, rss);
    if (used !== null) cpu = Math.max(cpu, used);
    if (mainUsed !== null) mainThreadCpu = Math.max(mainThreadCpu, mainUsed);
  }, 100);
  return {
    stop() {
      clearInterval(timer);
      return { peakMiB, cpuSeconds: cpu, mainThreadCpuSeconds: mainThreadCpu };
    },
  };
}
