// The admin center's page (docs/admin-center.md) at /admin/: the page `npm run build` writes as
// dist/webapp/admin.html, whose script and style are the app's hashed files under /mail/assets/
// (served there with a year's caching). The page itself is revalidated at every load and carries the
// web app's Content-Security-Policy and headers; what it shows comes from the admin API, which
// checks who may see what. Client-side views are chosen by the URL's fragment (#users, #queue…).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { appContentSecurityPolicy, webappDir } from './webmail-routes.ts';

export function registerAdminCenterRoutes(app: FastifyInstance, options: { dir?: string } = {}) {
  const path = join(options.dir ?? webappDir, 'admin.html');
  let page: Buffer | undefined;
  const headers = (reply: FastifyReply) =>
    reply
      .header('Content-Security-Policy', appContentSecurityPolicy)
      .header('X-Content-Type-Options', 'nosniff')
      .header('Referrer-Policy', 'no-referrer')
      .header('Cross-Origin-Opener-Policy', 'same-origin')
      .header('Cross-Origin-Resource-Policy', 'same-origin')
      .header('Cache-Control', 'no-cache');
  app.get('/admin', (_request, reply) => reply.redirect('/admin/'));
  app.get('/admin/', (_request, reply) => {
    try {
      // Read at the first request that finds it (a test may build after the server started), then kept.
      page ??= readFileSync(path);
    } catch {
      return headers(reply.code(503))
        .type('text/plain; charset=utf-8')
        .send('The admin center is not built: run "npm run build" in the Holdfast directory\n');
    }
    return headers(reply).type('text/html; charset=utf-8').send(page);
  });
}
