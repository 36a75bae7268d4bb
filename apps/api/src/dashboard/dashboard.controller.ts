import { Controller, Get, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { existsSync } from 'node:fs';
import { extname, join } from 'node:path';
import { projectRoot } from '#config';
import { Public } from '../common/auth.decorators.js';

/** Where `npm run build` (vite build) writes the web app. */
export const DASHBOARD_DIST = join(projectRoot(), 'dist', 'dashboard');
const PREFIX = '/dashboard';

/**
 * The web app's static files, with an SPA fallback to index.html for client-side routes. Public on purpose: the
 * files hold no data (every API call the app makes carries the JWT from its login form). Not an API operation,
 * so it is left out of Swagger (the OpenAPI suite requires a token on every documented non-public operation).
 */
@ApiExcludeController()
@Public()
@Controller()
export class DashboardController {
  @Get(['dashboard', 'dashboard/*path'])
  serve(@Req() request: Request, @Res() response: Response): void {
    const index = join(DASHBOARD_DIST, 'index.html');
    if (!existsSync(index)) {
      response.status(503).json({ statusCode: 503, error: 'Service Unavailable', message: 'The dashboard is not built: run `npm run build`' });
      return;
    }
    // `/dashboard` without the slash would resolve the relative asset URLs against `/`.
    if (request.path === PREFIX) return response.redirect(301, `${PREFIX}/`);
    const relative = request.path.slice(PREFIX.length + 1); // still URL-encoded: send decodes it and refuses ".."
    // Hashed assets never change under one name; index.html must be revalidated so a new build is picked up.
    if (relative.startsWith('assets/') && extname(relative)) {
      response.sendFile(relative, { root: DASHBOARD_DIST, immutable: true, maxAge: '365d', dotfiles: 'deny' }, (error) => {
        if (error && !response.headersSent) response.status(404).json({ statusCode: 404, error: 'Not Found', message: 'No such dashboard asset' });
      });
      return;
    }
    response.setHeader('Cache-Control', 'no-cache');
    response.sendFile('index.html', { root: DASHBOARD_DIST });
  }
}
