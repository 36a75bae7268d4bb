/**
 * The JSON-RPC 2.0 envelope, checked before the SDK's transport handlers see a request: they answer -32602 for a
 * body that is not JSON or not a request, where JSON-RPC says -32700 (parse error) and -32600 (invalid request).
 * Also picks the wire mapping from the A2A-Version service parameter (absent or empty means 0.3, by the spec), and
 * applies the REST body rules JSON-RPC's way (-32602): nesting depth, and strings no column can hold.
 */
import { A2A_ERROR_CODE } from '@a2a-js/sdk/errors';
import { findUnstorableString, jsonDepthExceeds, MAX_BODY_DEPTH } from '../common/body-limits.js';

export type RpcId = string | number | null;

export interface RpcErrorResponse {
  jsonrpc: '2.0';
  id: RpcId;
  error: { code: number; message: string; data?: unknown };
}

export type ParsedEnvelope =
  { ok: true; request: Record<string, unknown>; id: RpcId; method: string } | { ok: false; response: RpcErrorResponse };

export const rpcError = (id: RpcId, code: number, message: string): RpcErrorResponse => ({ jsonrpc: '2.0', id, error: { code, message } });

export function parseEnvelope(body: unknown): ParsedEnvelope {
  let value: unknown = body;
  if (typeof body === 'string' || Buffer.isBuffer(body)) {
    try {
      value = JSON.parse(body.toString());
    } catch {
      return { ok: false, response: rpcError(null, A2A_ERROR_CODE.PARSE_ERROR, 'Invalid JSON payload') };
    }
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    const what = Array.isArray(value) ? 'batch requests are not supported' : 'the body must be a JSON-RPC request object';
    return { ok: false, response: rpcError(null, A2A_ERROR_CODE.INVALID_REQUEST, `Request payload validation error: ${what}`) };
  }
  const request = value as Record<string, unknown>;
  const rawId = request.id;
  const validId =
    rawId === undefined || rawId === null || typeof rawId === 'string' || (typeof rawId === 'number' && Number.isInteger(rawId));
  const id: RpcId = validId && rawId !== undefined ? (rawId as RpcId) : null;
  const invalid = (why: string): ParsedEnvelope => ({
    ok: false,
    response: rpcError(id, A2A_ERROR_CODE.INVALID_REQUEST, `Request payload validation error: ${why}`),
  });
  if (request.jsonrpc !== '2.0') return invalid('"jsonrpc" must be "2.0"');
  if (!validId) return invalid('"id" must be a string, an integer or null');
  if (typeof request.method !== 'string' || request.method.length === 0) return invalid('"method" must be a non-empty string');
  if (request.params !== undefined && (request.params === null || typeof request.params !== 'object' || Array.isArray(request.params)))
    return { ok: false, response: rpcError(id, A2A_ERROR_CODE.INVALID_PARAMS, 'Invalid params: "params" must be an object') };
  if (jsonDepthExceeds(request.params, MAX_BODY_DEPTH))
    return { ok: false, response: rpcError(id, A2A_ERROR_CODE.INVALID_PARAMS, `Invalid params: nested deeper than ${MAX_BODY_DEPTH} levels`) };
  const unstorable = findUnstorableString(request.params);
  if (unstorable) return { ok: false, response: rpcError(id, A2A_ERROR_CODE.INVALID_PARAMS, `Invalid params: a string ${unstorable}`) };
  return { ok: true, request, id, method: request.method };
}

export type WireVersion = '1.0' | '0.3';

/** The protocol version asked for, or null when we do not speak it. */
export function wireVersionOf(header: string | undefined): WireVersion | null {
  const value = (header ?? '').trim();
  if (value === '' || value === '0.3') return '0.3';
  if (value === '1.0' || value === '1') return '1.0';
  return null;
}
