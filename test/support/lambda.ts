/**
 * The Lambda function as AWS runs it: `npm run package:lambda`'s zip, unzipped into a clean directory
 * (no node_modules anywhere above it), its `index.mjs` imported by a fresh Node process per invocation
 * (a cold start) and `handler(event, context)` called once. Plus AWS's sample events
 * (test/fixtures/lambda/) filled in with real objects.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { unzipSync } from 'fflate';
import { encodeEventKey } from '../../src/discovery/s3-events.js';
import { packageRoot } from '../../src/package-root.js';

const FIXTURES = join(packageRoot(), 'test', 'fixtures', 'lambda');

/** Builds the zip into `work` and unzips it into `work/function`; returns that directory. */
export async function buildLambda(work: string): Promise<{ zip: string; functionDir: string }> {
  const zip = join(work, 'lambda.zip');
  await promisify(execFile)(process.execPath, [
    join(packageRoot(), 'deploy', 'lambda', 'package.mjs'),
    '--out',
    zip,
  ]);
  const functionDir = join(work, 'function');
  for (const [name, bytes] of Object.entries(unzipSync(await readFile(zip)))) {
    await mkdir(dirname(join(functionDir, name)), { recursive: true });
    await writeFile(join(functionDir, name), bytes);
  }
  return { zip, functionDir };
}

/** What Lambda sets in every function's environment, with the s3rver credentials as the role's. */
export function lambdaEnv(extra: Record<string, string>): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    AWS_SESSION_TOKEN: 'session-token-of-the-execution-role',
    AWS_LAMBDA_FUNCTION_NAME: 'file-transformer',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
    LOG_LEVEL: 'info',
    ...extra,
  };
}

export interface Invocation {
  /** The handler's resolved value; undefined when it rejected or the module failed to load. */
  result?: unknown;
  /** The rejection's message, when the handler rejected. */
  error?: string;
  /** Exit code of the process (non-zero when the module failed to initialise). */
  code: number | null;
  /** The process's peak resident set size (KiB), when it got as far as the end of the invocation. */
  maxRssKiB?: number;
  /** JSON log events on stdout. */
  logs: Record<string, unknown>[];
  stderr: string;
}

const RUNNER = `
const { pathToFileURL } = await import('node:url');
const { readFileSync } = await import('node:fs');
const [entry, eventFile, timeoutMs] = process.argv.slice(1);
const { handler } = await import(pathToFileURL(entry).href);
const event = JSON.parse(readFileSync(eventFile, 'utf8'));
const deadline = Date.now() + Number(timeoutMs);
const context = { awsRequestId: 'test-request', getRemainingTimeInMillis: () => deadline - Date.now() };
try {
  const result = await handler(event, context);
  process.stdout.write('INVOCATION_RESULT ' + JSON.stringify(result ?? null) + '\\n');
} catch (err) {
  process.stdout.write('INVOCATION_ERROR ' + JSON.stringify(String(err?.message ?? err)) + '\\n');
}
process.stdout.write('INVOCATION_MAXRSS ' + process.resourceUsage().maxRSS + '\\n');
`;

/** Invokes the unzipped function once with `event`, in a new process started in `functionDir`. */
export async function invokeLambda(
  functionDir: string,
  event: unknown,
  env: Record<string, string>,
  options: { timeoutMs?: number; nodeArgs?: string[] } = {},
): Promise<Invocation> {
  const eventFile = join(dirname(functionDir), `event-${process.hrtime.bigint()}.json`);
  await writeFile(eventFile, JSON.stringify(event));
  const child = spawn(
    process.execPath,
    [
      ...(options.nodeArgs ?? []),
      '--input-type=module',
      '-e',
      RUNNER,
      join(functionDir, 'index.mjs'),
      eventFile,
      String(options.timeoutMs ?? 120_000),
    ],
    { cwd: functionDir, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString('utf8');
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString('utf8');
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  const invocation: Invocation = { code, logs: [], stderr };
  for (const line of stdout.split('\n')) {
    if (line.startsWith('INVOCATION_RESULT ')) invocation.result = JSON.parse(line.slice(18));
    else if (line.startsWith('INVOCATION_ERROR ')) invocation.error = JSON.parse(line.slice(17)) as string;
    else if (line.startsWith('INVOCATION_MAXRSS ')) invocation.maxRssKiB = Number(line.slice(18));
    else if (line.startsWith('{')) invocation.logs.push(JSON.parse(line) as Record<string, unknown>);
  }
  return invocation;
}

async function fixture(name: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(join(FIXTURES, name), 'utf8')) as Record<string, unknown>;
}

export interface S3Object {
  bucket: string;
  key: string;
  etag: string;
  size: number;
}

/** AWS's sample S3 notification naming `objects` (keys URL-encoded as S3 sends them). */
export async function s3Notification(...objects: S3Object[]): Promise<Record<string, unknown>> {
  const sample = await fixture('s3-put.json');
  const [record] = sample.Records as Record<string, unknown>[];
  return {
    Records: objects.map((o) => {
      const s3 = structuredClone(record!.s3) as Record<string, Record<string, unknown>>;
      s3.bucket = { ...s3.bucket, name: o.bucket, arn: `arn:aws:s3:::${o.bucket}` };
      s3.object = { ...s3.object, key: encodeEventKey(o.key), eTag: o.etag, size: o.size };
      return { ...record, s3 };
    }),
  };
}

/** The same notification as S3 → SNS → SQS delivers it: inside an SNS envelope's `Message`. */
export async function snsWrapped(notification: unknown): Promise<Record<string, unknown>> {
  return { ...(await fixture('sns-notification.json')), Message: JSON.stringify(notification) };
}

/** AWS's sample EventBridge `Object Created` event for `o` (EventBridge keys are not URL-encoded). */
export async function eventBridgeEvent(o: S3Object): Promise<Record<string, unknown>> {
  const sample = await fixture('eventbridge-object-created.json');
  const detail = sample.detail as Record<string, Record<string, unknown>>;
  return {
    ...sample,
    resources: [`arn:aws:s3:::${o.bucket}`],
    detail: {
      ...detail,
      bucket: { name: o.bucket },
      object: { ...detail.object, key: o.key, etag: o.etag, size: o.size },
    },
  };
}

export async function s3TestEvent(bucket: string): Promise<Record<string, unknown>> {
  return { ...(await fixture('s3-test-event.json')), Bucket: bucket };
}

/** An SQS batch as Lambda delivers it, one message per body (objects are sent as JSON text). */
export async function sqsEvent(
  ...messages: { id: string; body: unknown }[]
): Promise<Record<string, unknown>> {
  const sample = await fixture('sqs-message.json');
  const [record] = sample.Records as Record<string, unknown>[];
  return {
    Records: messages.map(({ id, body }) => ({
      ...record,
      messageId: id,
      body: typeof body === 'string' ? body : JSON.stringify(body),
    })),
  };
}
