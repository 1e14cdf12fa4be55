// The browser side: the demo page at `/` and its files from web/, the two browser
// libraries it needs (served from node_modules, never from a CDN), and `/embed.js`,
// the embeddable form. `/embed.js` is one script for other origins to load: the
// SimpleWebAuthn bundle, web/passkeys.js, web/embed.css as the string `embedCss` and
// web/embed.js, wrapped in one function so that nothing of it lands in the embedding
// page's globals.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Router, type RequestHandler } from 'express';
import { route } from '../http/route.js';

const require = createRequire(import.meta.url);

// web/ sits beside package.json, whether this file runs from server/ (tsx) or dist/server/ (node).
function findWebDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    if (dirname(dir) === dir) throw new Error('web/: no package.json above server/routes');
    dir = dirname(dir);
  }
  return join(dir, 'web');
}

// The package exports only its ESM and CommonJS entry points; the UMD bundle sits beside them.
const simpleWebAuthnBundle = join(dirname(require.resolve('@simplewebauthn/browser')), '../dist/bundle/index.umd.min.js');
const alpineCspBundle = require.resolve('@alpinejs/csp/dist/cdn.min.js');

const read = (path: string) => readFileSync(path, 'utf8');

function embedScript(simpleWebAuthn: string, webDir: string): string {
  return [
    '(() => {',
    // Strict, as the modules of the demo page are: a slip such as an undeclared name throws instead of making a global.
    "'use strict';",
    // The UMD bundle fills `module.exports` when it sees CommonJS, instead of setting a global.
    'const module = { exports: {} }, exports = module.exports;',
    simpleWebAuthn,
    'const SimpleWebAuthnBrowser = module.exports;',
    read(join(webDir, 'passkeys.js')),
    `const embedCss = ${JSON.stringify(read(join(webDir, 'embed.css')))};`,
    read(join(webDir, 'embed.js')),
    '})();',
  ].join('\n');
}

// File names carry no version, so browsers revalidate (ETag) rather than keep a stale copy.
const revalidate = 'no-cache';

// The app computes no ETags (API answers do not need them): these sources are
// fixed at start-up, so each gets its own once; res.send answers 304 when it matches.
const etag = (source: string) => `"${createHash('sha256').update(source).digest('base64url').slice(0, 27)}"`;

const fixed = (type: string, source: string): RequestHandler => {
  const tag = etag(source);
  return (_req, res) => {
    res.set({ 'Cache-Control': revalidate, ETag: tag }).type(type).send(source);
  };
};
const javascript = (source: string) => fixed('text/javascript; charset=utf-8', source);

/** The demo page's own files in web/, each served at its own path. */
export const demoFiles = [
  ['demo.js', 'text/javascript; charset=utf-8'],
  ['passkeys.js', 'text/javascript; charset=utf-8'],
  ['style.css', 'text/css; charset=utf-8'],
  ['favicon.svg', 'image/svg+xml'],
] as const;

export function webRouter(): Router {
  const router = Router();
  const webDir = findWebDir();
  const simpleWebAuthn = read(simpleWebAuthnBundle);
  const embed = embedScript(simpleWebAuthn, webDir);
  const embedTag = etag(embed);

  route(router, '/embed.js', {
    get: (_req, res) => {
      // Loaded by pages on other origins: helmet's default would make the browser refuse it there.
      res.set({ 'Cross-Origin-Resource-Policy': 'cross-origin', 'Cache-Control': 'public, max-age=300', ETag: embedTag });
      res.type('text/javascript; charset=utf-8').send(embed);
    },
  });
  route(router, '/', {
    get: fixed('text/html; charset=utf-8', read(join(webDir, 'index.html'))),
  });
  route(router, '/vendor/simplewebauthn-browser.js', { get: javascript(simpleWebAuthn) });
  route(router, '/vendor/alpine-csp.js', { get: javascript(read(alpineCspBundle)) });
  for (const [file, type] of demoFiles) route(router, `/${file}`, { get: fixed(type, read(join(webDir, file))) });
  return router;
}
