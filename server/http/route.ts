import type { RequestHandler, Router } from 'express';
import { methodNotAllowed } from './errors.js';

type Methods = Partial<Record<'get' | 'post' | 'put' | 'patch' | 'delete', RequestHandler>>;

/** Registers a path's handlers, and 405 with `Allow` for every other method. */
export function route(router: Router, path: string, methods: Methods): void {
  const r = router.route(path);
  for (const [method, handler] of Object.entries(methods)) r[method as keyof Methods](handler);
  const allowed = Object.keys(methods).map((m) => m.toUpperCase());
  if (allowed.includes('GET')) allowed.push('HEAD');
  r.all(methodNotAllowed(allowed));
}
