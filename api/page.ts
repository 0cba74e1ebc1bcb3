/**
 * The fleet page (GET /ui, and / redirecting there): a static HTML shell, one ES module and a style
 * sheet from api/ui/, and preact + htm served as ES modules straight from node_modules, so there is
 * no build step. Every file is read once at start and served from a fixed list: no path from a
 * request ever reaches the file system. The page reads and acts through the /v1 routes with the
 * token the user pastes; these routes themselves are public and carry nothing secret.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';

/** Only our own files: no inline script or style, no other origin; the API is same-origin. */
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

interface Asset {
  url: string;
  file: string;
  type: string;
}

const UI_DIR = path.join(__dirname, 'ui');

/** The page's files; `vendor/` are the two libraries, their ES module builds as npm ships them. */
function assets(): Asset[] {
  // Resolved through the packages' own entry points; the ES module build sits beside each.
  const dist = (spec: string, file: string) => path.join(path.dirname(require.resolve(spec)), file);
  return [
    { url: '/ui', file: path.join(UI_DIR, 'index.html'), type: 'text/html; charset=utf-8' },
    { url: '/ui/app.js', file: path.join(UI_DIR, 'app.js'), type: 'text/javascript; charset=utf-8' },
    { url: '/ui/style.css', file: path.join(UI_DIR, 'style.css'), type: 'text/css; charset=utf-8' },
    // preact's ES build; its hooks module imports the bare name "preact", so the page uses no hooks (no import map needed).
    { url: '/ui/vendor/preact.mjs', file: dist('preact', 'preact.mjs'), type: 'text/javascript; charset=utf-8' },
    { url: '/ui/vendor/htm.mjs', file: dist('htm', 'htm.mjs'), type: 'text/javascript; charset=utf-8' },
  ];
}

/** Is `url` one of the page's routes (not part of the API, not in the OpenAPI document)? */
export function isPageRoute(url: string | undefined): boolean {
  return url === '/' || url === '/ui' || url?.startsWith('/ui/') === true;
}

export async function pageRoutes(app: FastifyInstance): Promise<void> {
  for (const asset of assets()) {
    const body = readFileSync(asset.file);
    app.get(asset.url, { config: { auth: 'public', quiet: true }, schema: { hide: true } }, async (_request, reply) =>
      reply
        .header('content-type', asset.type)
        .header('content-security-policy', CSP)
        .header('x-content-type-options', 'nosniff')
        .header('referrer-policy', 'no-referrer')
        // Small files, and a new API version may change them: the browser asks again (304s are cheap).
        .header('cache-control', 'no-cache')
        .send(body),
    );
  }
  app.get('/', { config: { auth: 'public', quiet: true }, schema: { hide: true } }, async (_request, reply) => reply.redirect('/ui'));
}
