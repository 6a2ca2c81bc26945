/**
 * A small HTTP proxy (node:http) to put between the service and s3rver, injecting on demand the
 * faults real S3 produces and s3rver never does: `503 SlowDown` throttling, connections reset in the
 * middle of a body, and bodies that trickle in slowly. Everything else is forwarded byte for byte.
 *
 *   const proxy = await FaultProxy.start(s3rverEndpoint);
 *   const rule = proxy.inject({ method: 'GET', path: /\/in\//, times: 2, fault: { kind: 'slowDown' } });
 *   ... point the service's S3 endpoint at proxy.url ...
 *   expect(rule.hits).toBe(2);
 *
 * This is the one fake in the suite: it sits at the network edge and only for faults no real part
 * can produce on demand.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export type Fault =
  /** S3 throttling: 503 with an S3 XML error body (`SlowDown`), nothing forwarded. */
  | { kind: 'slowDown' }
  /** Any S3 error status and code, e.g. 500 InternalError or 403 AccessDenied. */
  | { kind: 'status'; status: number; code: string }
  /** Forward the response head and `afterBytes` of its body, then reset the connection. */
  | { kind: 'resetMidBody'; afterBytes: number }
  /** Reset the connection before answering at all. */
  | { kind: 'resetBeforeResponse' }
  /** Forward the response body at about `bytesPerSecond`, in `chunkBytes` pieces. */
  | { kind: 'slowBody'; bytesPerSecond: number; chunkBytes?: number }
  /**
   * Forward the response head and `afterBytes` of its body, then stop forwarding with the connection
   * left open (a proxy or NAT that stopped passing traffic on established connections).
   */
  | { kind: 'stallMidBody'; afterBytes: number }
  /** Take the request (its body too) and never answer, with the connection left open. */
  | { kind: 'stallBeforeResponse' }
  /** Forward the response head and `afterBytes` of its body, then end the response cleanly (short body). */
  | { kind: 'truncateBody'; afterBytes: number }
  /**
   * Forward the request (the store acts on it), then hold its answer for `ms` (a slow way back: the
   * client waits without knowing that the write already happened).
   */
  | { kind: 'delayAnswer'; ms: number };

export interface FaultRuleSpec {
  /** HTTP method to match (GET, PUT, POST, HEAD, DELETE); any when absent. */
  method?: string;
  /** Tested against the request path with its query string (`/bucket/key?uploadId=…`). */
  path?: RegExp;
  /** How many matching requests get the fault; Infinity when absent. */
  times?: number;
  fault: Fault;
}

export interface FaultRule extends FaultRuleSpec {
  /** Requests this rule has faulted so far. */
  hits: number;
}

/** One forwarded or faulted request, for assertions (method, path, what happened). */
export interface ProxiedRequest {
  method: string;
  path: string;
  fault: Fault['kind'] | null;
  /** The `x-amz-meta-source-etag` a write carried (which version an output came from). */
  sourceEtag?: string;
  /** The `x-amz-content-sha256` the request was signed with (a payload hash or `UNSIGNED-PAYLOAD`). */
  contentSha256?: string;
  /** The status forwarded from upstream, once known. */
  status?: number;
  /** True once the whole answer was handed to the client's connection (the client saw the outcome). */
  acknowledged?: boolean;
}

/** Decides a fault for a request no rule matched (a chaos campaign's random faults); null: none. */
export type FaultChooser = (method: string, path: string) => Fault | null;

function s3ErrorXml(code: string, message: string, resource: string): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Error><Code>${code}</Code><Message>${message}</Message><Resource>${resource}</Resource>` +
    '<RequestId>fault-proxy</RequestId></Error>'
  );
}

export class FaultProxy {
  readonly rules: FaultRule[] = [];
  readonly log: ProxiedRequest[] = [];
  /** Consulted when no rule matches. */
  chooser: FaultChooser | null = null;
  /** Keep `log` entries (a long campaign turns this off and uses `onRequest`). */
  keepLog = true;
  /** Called with every entry once its answer has ended (or failed). */
  onRequest: ((entry: ProxiedRequest) => void) | null = null;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: http.Server,
    private readonly target: URL,
    readonly url: string,
  ) {}

  /** Starts a proxy on 127.0.0.1 (ephemeral port) forwarding to `target` (e.g. http://127.0.0.1:4568). */
  static async start(target: string): Promise<FaultProxy> {
    let proxy: FaultProxy | undefined;
    const server = http.createServer((req, res) => {
      proxy!.handle(req, res).catch(() => res.destroy());
    });
    server.on('connection', (socket) => {
      proxy?.sockets.add(socket);
      socket.on('close', () => proxy?.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    proxy = new FaultProxy(server, new URL(target), `http://127.0.0.1:${port}`);
    return proxy;
  }

  /** Adds a rule; the first rule that matches a request (and has faults left) applies. */
  inject(spec: FaultRuleSpec): FaultRule {
    const rule: FaultRule = { ...spec, hits: 0 };
    this.rules.push(rule);
    return rule;
  }

  /** Removes every rule: from now on everything is forwarded untouched. */
  clear(): void {
    this.rules.length = 0;
  }

  /** Requests seen whose method and path match, faulted or not. */
  count(method: string, path: RegExp): number {
    return this.log.filter((r) => r.method === method && path.test(r.path)).length;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private pick(method: string, path: string): FaultRule | undefined {
    return this.rules.find(
      (r) =>
        (r.method === undefined || r.method.toUpperCase() === method) &&
        (r.path === undefined || r.path.test(path)) &&
        r.hits < (r.times ?? Number.POSITIVE_INFINITY),
    );
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const rule = this.pick(method, path);
    if (rule) rule.hits++;
    const fault = rule?.fault ?? this.chooser?.(method, path) ?? null;
    const entry: ProxiedRequest = { method, path, fault: fault?.kind ?? null };
    const sourceEtag = req.headers['x-amz-meta-source-etag'];
    if (typeof sourceEtag === 'string') entry.sourceEtag = sourceEtag;
    const contentSha256 = req.headers['x-amz-content-sha256'];
    if (typeof contentSha256 === 'string') entry.contentSha256 = contentSha256;
    if (this.keepLog) this.log.push(entry);
    res.on('finish', () => {
      entry.acknowledged = true;
    });
    res.on('close', () => this.onRequest?.(entry));

    if (fault?.kind === 'slowDown' || fault?.kind === 'status') {
      const [status, code] = fault.kind === 'slowDown' ? [503, 'SlowDown'] : [fault.status, fault.code];
      // Drain the request body first, as S3 does, so the client sees the answer and not a broken pipe.
      req.resume();
      await new Promise((resolve) => req.on('end', resolve));
      const body = s3ErrorXml(code, `injected ${code}`, path);
      res.writeHead(status, { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    if (fault?.kind === 'resetBeforeResponse') {
      req.socket.destroy();
      return;
    }
    if (fault?.kind === 'stallBeforeResponse') {
      // Read what the client sends (so it is not stopped by a full window), answer nothing.
      req.resume();
      return;
    }

    const headers = { ...req.headers };
    // The proxy answers `Expect: 100-continue` itself (node:http does); don't make s3rver do it again.
    delete headers.expect;
    const upstream = http.request({
      hostname: this.target.hostname,
      port: this.target.port,
      method,
      path,
      headers,
    });
    req.pipe(upstream);
    const answer = await new Promise<http.IncomingMessage>((resolve, reject) => {
      upstream.on('response', resolve);
      upstream.on('error', reject);
    });
    entry.status = answer.statusCode ?? 502;
    if (fault?.kind === 'delayAnswer') await sleep(fault.ms);
    res.writeHead(answer.statusCode ?? 502, answer.headers);

    if (fault?.kind === 'resetMidBody' || fault?.kind === 'stallMidBody' || fault?.kind === 'truncateBody') {
      let sent = 0;
      for await (const chunk of answer as AsyncIterable<Buffer>) {
        const room = fault.afterBytes - sent;
        if (room > 0) res.write(chunk.subarray(0, room));
        sent += Math.min(room, chunk.length);
        if (sent >= fault.afterBytes) break;
      }
      answer.destroy();
      if (fault.kind === 'resetMidBody') {
        // Give the written bytes a moment to leave, then cut the connection as a failing network does.
        await sleep(20);
        res.socket?.resetAndDestroy();
      } else if (fault.kind === 'truncateBody') {
        res.socket?.end();
      }
      // A stall keeps the socket open and silent until the client gives up (or the proxy closes).
      return;
    }
    if (fault?.kind === 'slowBody') {
      const piece = fault.chunkBytes ?? 16 * 1024;
      const pause = (piece / fault.bytesPerSecond) * 1000;
      for await (const chunk of answer as AsyncIterable<Buffer>) {
        for (let at = 0; at < chunk.length; at += piece) {
          if (res.destroyed) {
            answer.destroy();
            return;
          }
          res.write(chunk.subarray(at, at + piece));
          await sleep(pause);
        }
      }
      res.end();
      return;
    }
    answer.pipe(res);
  }
}

/** Matches the path-style URL of one object (`/<bucket>/<key>`, with or without a query string). */
export function objectPath(bucket: string, key: string, query = ''): RegExp {
  const escaped = `/${bucket}/${key}`.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^${escaped}${query ? `\\?.*${query}` : '(\\?|$)'}`);
}
