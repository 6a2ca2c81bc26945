/**
 * The operations console: plain HTML, CSS and ES modules in ./console/ (no build step, no framework,
 * nothing from a CDN), served as they are. Every path the console shows in the address bar (`/`,
 * `/files`, `/files/<key>`) answers the same page, whose script picks the view from the URL, so a
 * file's page can be linked in a chat. The console reads and changes everything through this API.
 *
 * The assets are read once at start-up into memory (a fixed list: no path from a request reaches the
 * file system). A Content-Security-Policy allows only this origin's scripts, styles and requests.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { packageRoot } from '../package-root.js';

const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
  "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** The assets stay in src/ (tsc copies none into dist/), found from the package root either way. */
function assetDirectory(): string {
  return join(packageRoot(), 'src', 'api', 'console');
}

function loadAssets(): Map<string, { type: string; body: Buffer }> {
  const dir = assetDirectory();
  const assets = new Map<string, { type: string; body: Buffer }>();
  for (const name of readdirSync(dir)) {
    const type = TYPES[extname(name)];
    if (type) assets.set(name, { type, body: readFileSync(join(dir, name)) });
  }
  return assets;
}

export async function dashboardRoutes(app: FastifyInstance) {
  const assets = loadAssets();
  const page = assets.get('index.html')!;
  const hide = { hide: true };

  const sendPage = async (_request: unknown, reply: FastifyReply) => {
    reply.header('Content-Security-Policy', CSP).header('Cache-Control', 'no-cache').type(page.type);
    return page.body;
  };
  app.get('/', { schema: hide }, sendPage);
  app.get('/files', { schema: hide }, sendPage);
  app.get('/files/*', { schema: hide }, sendPage);

  app.get<{ Params: { name: string } }>('/console/:name', { schema: hide }, async (request, reply) => {
    const asset = request.params.name === 'index.html' ? undefined : assets.get(request.params.name);
    if (!asset)
      return reply.code(404).send({ error: 'NotFound', message: `no console asset ${request.params.name}` });
    reply.header('Cache-Control', 'no-cache').type(asset.type);
    return asset.body;
  });
}
