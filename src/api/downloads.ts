/**
 * Downloads of what the service wrote for a file, through the API (the browser never talks to S3 and
 * never sees credentials):
 *   GET /api/outputs/{key}?etag=   the JSON output of a version (default: the latest)
 *   GET /api/reports/{key}?etag=   its report (from the report bucket, else the copy in the ledger)
 *
 * Every version of a key writes the same output key, so the object in the bucket belongs to the
 * version that was converted last. The worker stamps it with `source-etag`; asking for an older
 * version whose output has since been replaced is a 409, never someone else's bytes.
 * The key may be sent URL-encoded or with raw slashes, as for /api/files/{key}.
 */
import { posix } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { HttpError } from './errors.js';
import type { ArtifactBucket, ServiceApi } from './types.js';

const MAX_KEY_LENGTH = 1024;

/** The fields of a ledger row a download needs (GET /api/files/{key} returns whole rows). */
interface VersionRow {
  etag: string;
  state: string;
  outputKey: string | null;
  reportKey: string | null;
  report: unknown;
}

type Kind = 'output' | 'report';

/** `attachment` with an ASCII fallback and the exact UTF-8 name (RFC 6266 / 5987). */
function attachment(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

export async function downloadRoutes(app: FastifyInstance, opts: { service: ServiceApi }) {
  const { service } = opts;

  async function pickVersion(key: string, etag: string | undefined): Promise<VersionRow> {
    const versions = (await service.getFileVersions(key)) as readonly VersionRow[];
    if (versions.length === 0)
      throw new HttpError(404, `no file with key ${JSON.stringify(key)} in the ledger`);
    const version = etag === undefined ? versions[0] : versions.find((v) => v.etag === etag);
    if (!version) throw new HttpError(404, `${JSON.stringify(key)} has no version with ETag ${etag}`);
    return version;
  }

  async function stream(
    reply: FastifyReply,
    where: ArtifactBucket,
    objectKey: string,
    version: VersionRow,
    what: string,
  ) {
    const artifact = await service.openArtifact(where, objectKey);
    if (!artifact) throw new HttpError(404, `the ${what} ${objectKey} is no longer in the bucket`);
    const writtenFor = artifact.metadata['source-etag'];
    if (writtenFor !== undefined && writtenFor !== version.etag) {
      artifact.body.destroy();
      throw new HttpError(
        409,
        `the ${what} ${objectKey} now holds version ${writtenFor}, converted after version ${version.etag}`,
      );
    }
    reply
      .type('application/json; charset=utf-8')
      .header('Content-Disposition', attachment(posix.basename(objectKey)));
    if (artifact.contentLength !== null) reply.header('Content-Length', artifact.contentLength);
    return reply.send(artifact.body);
  }

  async function download(kind: Kind, key: string, etag: string | undefined, reply: FastifyReply) {
    const version = await pickVersion(key, etag);
    if (kind === 'output') {
      if (!version.outputKey) {
        throw new HttpError(404, `version ${version.etag} has no JSON output (state ${version.state})`);
      }
      return stream(reply, 'target', version.outputKey, version, 'output');
    }
    if (version.reportKey) return stream(reply, 'report', version.reportKey, version, 'report');
    if (version.report === null || version.report === undefined) {
      throw new HttpError(404, `version ${version.etag} has no report (state ${version.state})`);
    }
    // Files without rejections keep their report only in the ledger.
    reply
      .type('application/json; charset=utf-8')
      .header('Content-Disposition', attachment(`${posix.basename(key)}.report.json`));
    return JSON.stringify(version.report);
  }

  const querystring = {
    type: 'object',
    additionalProperties: false,
    properties: { etag: { type: 'string', minLength: 1, maxLength: 200 } },
  } as const;
  const routes: { kind: Kind; path: string; summary: string }[] = [
    {
      kind: 'output',
      path: '/api/outputs',
      summary: 'Download the JSON output of a version (default: the latest)',
    },
    {
      kind: 'report',
      path: '/api/reports',
      summary: 'Download the report of a version (default: the latest)',
    },
  ];
  for (const { kind, path, summary } of routes) {
    const schema = {
      tags: ['files'],
      summary,
      description: 'The key URL-encoded as one path segment; its slashes may also be sent raw.',
      querystring,
      response: { 404: { $ref: 'ApiError#' }, 409: { $ref: 'ApiError#' } },
    };
    app.get<{ Params: { key: string }; Querystring: { etag?: string } }>(
      `${path}/:key`,
      {
        schema: {
          ...schema,
          params: {
            type: 'object',
            required: ['key'],
            properties: { key: { type: 'string', minLength: 1, maxLength: MAX_KEY_LENGTH } },
          },
        },
      },
      async (request, reply) => download(kind, request.params.key, request.query.etag, reply),
    );
    app.get<{ Params: { '*': string }; Querystring: { etag?: string } }>(
      `${path}/*`,
      {
        schema: {
          ...schema,
          hide: true,
          params: {
            type: 'object',
            required: ['*'],
            properties: { '*': { type: 'string', minLength: 1, maxLength: MAX_KEY_LENGTH } },
          },
        },
      },
      async (request, reply) => download(kind, request.params['*'], request.query.etag, reply),
    );
  }
}
