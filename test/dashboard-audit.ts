/**
 * Checks the browser suite runs on the pages it drives: an accessibility audit of the rendered page (the contrast of
 * every visible text against what is painted behind it, accessible names of controls, one h1, unique ids) and the
 * OpenAPI check of every request the pages made (operation and query parameters documented in /docs-json).
 */
import type { OpenAPIObject } from '@nestjs/swagger';
import type { Page } from 'playwright-core';
import { contrastRatio } from '../apps/dashboard/src/lib/contrast.js';

/**
 * The in-page audit is written against the DOM and type-checked with the dashboard (apps/dashboard/tsconfig.json);
 * imported by a path in a variable, so this Node-typed program (no DOM lib) does not compile it. jest transpiles it.
 */
const PAGE_AUDIT = '../apps/dashboard/src/lib/page-audit.js';
const { auditDocument } = (await import(PAGE_AUDIT)) as { auditDocument: (ratio: typeof contrastRatio) => string[] };

/** The accessibility problems of the page as rendered now (empty: none found), each prefixed with `where`. */
export async function auditPage(page: Page, where: string): Promise<string[]> {
  const problems = await page.evaluate<string[]>(`(${auditDocument.toString()})(${contrastRatio.toString()})`);
  return problems.map((p) => `${where}: ${p}`);
}

/**
 * The requests (METHOD url) that are not an operation of the document, or that pass a query parameter the
 * operation does not document.
 */
export function undocumentedRequests(doc: OpenAPIObject, requests: Iterable<string>): string[] {
  const operations = Object.entries(doc.paths).flatMap(([template, item]) =>
    Object.entries(item as Record<string, { parameters?: { in: string; name: string }[] }>).map(([method, op]) => ({
      method: method.toUpperCase(),
      pattern: new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`),
      query: new Set((op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name)),
    })),
  );
  const problems: string[] = [];
  for (const request of new Set(requests)) {
    const [method, url] = request.split(' ') as [string, string];
    const { pathname, searchParams } = new URL(url);
    const op = operations.find((o) => o.method === method && o.pattern.test(pathname));
    if (!op) problems.push(`${method} ${pathname}: not in /docs-json`);
    else for (const key of searchParams.keys()) if (!op.query.has(key)) problems.push(`${method} ${pathname}: query parameter ${key} is not documented`);
  }
  return problems;
}
