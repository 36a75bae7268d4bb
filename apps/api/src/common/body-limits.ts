/**
 * Limits every request body meets before any parser, DTO transform or definition check sees it, so hostile input is
 * refused at the edge in bounded time instead of deep inside a recursive library (class-transformer, the definition
 * checks and the YAML parser recurse once per nesting level and overflow the stack a few thousand levels down):
 * - a body in a media type the API does not read is 415 (it would otherwise reach handlers as "nothing");
 * - at most BODY_LIMIT bytes (413, from body-parser, which stops reading there);
 * - at most MAX_BODY_DEPTH levels of nesting (400): JSON is checked on the parsed value, iteratively; YAML text is
 *   scanned (flow collections and indentation) before the YAML parser runs.
 */
import type { NextFunction, Request, Response } from 'express';
import { errorBody } from './domain-exception.filter.js';

export const BODY_LIMIT = '1mb';
/** Far beyond any definition or DTO Baton has (a definition with JSON Schemas inside is about 10 deep). */
export const MAX_BODY_DEPTH = 64;
export const JSON_TYPES = ['application/json', 'application/*+json'];
export const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml'];

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** A2A JSON-RPC answers bad input in its own envelope (JSON-RPC errors), so these HTTP-level refusals leave it alone. */
const ownRules = (request: Request) => request.path === '/a2a' || request.path.startsWith('/a2a/');

function refuse(response: Response, statusCode: number, message: string): void {
  response.status(statusCode).json(errorBody(statusCode, message));
}

function hasBody(request: Request): boolean {
  const length = request.headers['content-length'];
  return request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** 415 for a body the API has no parser for (before reading it); bodiless requests and GETs pass. */
export function rejectUnsupportedMediaType(request: Request, response: Response, next: NextFunction): void {
  if (!BODY_METHODS.has(request.method) || !hasBody(request) || ownRules(request)) return next();
  if (request.is([...JSON_TYPES, ...YAML_TYPES])) return next();
  const got = request.headers['content-type'] ?? 'none';
  refuse(response, 415, `Unsupported Content-Type ${JSON.stringify(got.slice(0, 100))}: send application/json (definitions also take application/yaml)`);
}

/** Nesting depth of a parsed JSON value, walked iteratively (no recursion), stopping as soon as it exceeds `max`. */
export function jsonDepthExceeds(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (node === null || typeof node !== 'object') continue;
    if (depth + 1 > max) return true;
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
    }
  }
  return false;
}

/**
 * A bound on the nesting of YAML text without parsing it: the deepest flow collection (`[`/`{` outside quotes and
 * comments) plus the indentation levels of block collections (counted as distinct indentation widths on the
 * open path). Over-estimates rather than under-estimates, which is fine for a limit this far above real documents.
 */
export function yamlDepthExceeds(text: string, max: number): boolean {
  const indents: number[] = [];
  let flow = 0;
  let quote: '"' | "'" | null = null;
  let lineStart = true;
  let indent = 0;
  let dashes = 0; // `- - - x` opens one block sequence per dash on a single line
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\n') {
      lineStart = true;
      indent = 0;
      dashes = 0;
      continue;
    }
    if (lineStart) {
      if (c === ' ' || c === '-' || c === '\t') {
        indent++;
        if (c === '-') dashes++;
        continue;
      }
      lineStart = false;
      if (c !== '#' && quote === null && flow === 0) {
        while (indents.length > 0 && indents[indents.length - 1] >= indent) indents.pop();
        indents.push(indent);
        if (indents.length + dashes > max) return true;
      }
    }
    if (quote) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = null;
      continue;
    }
    if (c === '"' || c === "'") quote = c;
    else if (c === '#' && (i === 0 || /\s/.test(text[i - 1]))) {
      const end = text.indexOf('\n', i);
      i = end === -1 ? text.length : end - 1;
    } else if (c === '[' || c === '{') {
      flow++;
      if (flow + indents.length > max) return true;
    } else if ((c === ']' || c === '}') && flow > 0) flow--;
  }
  return false;
}

/**
 * A string PostgreSQL cannot store or a client cannot mean: NUL (text columns refuse it, so it would surface as a
 * 500 from SQL) or a lone UTF-16 surrogate (not Unicode; silently replaced when encoded). Walks values iteratively.
 */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function findUnstorableString(value: unknown): string | null {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const node = stack.pop();
    if (typeof node === 'string') {
      if (node.includes('\u0000')) return 'contains a NUL character';
      if (LONE_SURROGATE.test(node)) return 'contains a lone UTF-16 surrogate';
    } else if (node !== null && typeof node === 'object') {
      for (const [key, child] of Object.entries(node)) stack.push(key, child);
    }
  }
  return null;
}

/** After the body parsers: 400 for a body nested deeper than MAX_BODY_DEPTH, or text no column can hold (URL or body). */
export function rejectDeepBodies(request: Request, response: Response, next: NextFunction): void {
  if (ownRules(request)) return next();
  const body: unknown = request.body;
  const tooDeep = typeof body === 'string' ? yamlDepthExceeds(body, MAX_BODY_DEPTH) : jsonDepthExceeds(body, MAX_BODY_DEPTH);
  if (tooDeep) return refuse(response, 400, `Request body is nested deeper than ${MAX_BODY_DEPTH} levels`);
  let path: string;
  try {
    path = decodeURIComponent(request.path);
  } catch {
    return refuse(response, 400, 'The URL path is not valid percent-encoded UTF-8');
  }
  const problem = findUnstorableString(path) ?? findUnstorableString(request.query);
  if (problem) return refuse(response, 400, `The URL ${problem}`);
  const bodyProblem = findUnstorableString(body);
  if (bodyProblem) return refuse(response, 400, `The request body ${bodyProblem}`);
  next();
}
