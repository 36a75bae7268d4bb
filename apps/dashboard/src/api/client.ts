import { API_ROUTES, type RouteName } from './routes';

/** An answer in the API's error shape `{ statusCode, error, message, details? }` (or a network failure, status 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly details?: { path?: string; message: string; code?: string }[],
  ) {
    super(message);
  }
}

export type Query = Record<string, string | number | boolean | undefined | null>;

export interface CallOptions {
  params?: Record<string, string>;
  query?: Query;
  body?: unknown;
  /** Raw text body with this content type (YAML). */
  text?: { body: string; contentType: string };
  accept?: string;
  signal?: AbortSignal;
}

/** `GET /orchestrations/runs/{id}` + params -> method and URL path (params are URL-encoded). */
export function routeUrl(name: RouteName, params: Record<string, string> = {}, query: Query = {}): { method: string; path: string } {
  const [method, template] = API_ROUTES[name].split(' ') as [string, string];
  const path = template.replace(/\{(\w+)\}/g, (_, key: string) => {
    const value = params[key];
    if (value === undefined) throw new Error(`${name}: missing path parameter ${key}`);
    return encodeURIComponent(value);
  });
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  const qs = search.toString();
  return { method, path: qs ? `${path}?${qs}` : path };
}

/**
 * The one way pages reach the API: only the documented routes of API_ROUTES, always with the in-memory token.
 * `onUnauthorized` runs on a 401 (expired JWT) so the app can return to the login form.
 */
export class ApiClient {
  constructor(
    private readonly token: () => string | null,
    private readonly onUnauthorized: () => void = () => undefined,
    private readonly base = '',
  ) {}

  async call<T>(name: RouteName, options: CallOptions = {}): Promise<T> {
    const { method, path } = routeUrl(name, options.params, options.query);
    const headers: Record<string, string> = { Accept: options.accept ?? 'application/json' };
    const token = this.token();
    if (token) headers.Authorization = `Bearer ${token}`;
    let body: string | undefined;
    if (options.text) {
      headers['Content-Type'] = options.text.contentType;
      body = options.text.body;
    } else if (options.body !== undefined || method === 'POST') {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(options.body ?? {});
    }
    let response: Response;
    try {
      response = await fetch(`${this.base}${path}`, { method, headers, body, signal: options.signal });
    } catch (error) {
      if ((error as Error).name === 'AbortError') throw error;
      throw new ApiError(0, 'The server cannot be reached');
    }
    if (response.status === 401 && name !== 'login') this.onUnauthorized();
    if (!response.ok) throw await errorOf(response);
    if (response.status === 204) return undefined as T;
    const type = response.headers.get('content-type') ?? '';
    return (type.includes('json') ? await response.json() : await response.text()) as T;
  }

  /** Headers for the fetch-based SSE reader (EventSource cannot send Authorization). */
  authHeaders(): Record<string, string> {
    const token = this.token();
    return token ? { Authorization: `Bearer ${token}` } : {};
  }

  url(name: RouteName, query: Query = {}, params: Record<string, string> = {}): string {
    return `${this.base}${routeUrl(name, params, query).path}`;
  }
}

async function errorOf(response: Response): Promise<ApiError> {
  try {
    const body = (await response.json()) as { message?: string | string[]; details?: ApiError['details'] };
    const message = Array.isArray(body.message) ? body.message.join('; ') : body.message;
    return new ApiError(response.status, message ?? response.statusText, Array.isArray(body.details) ? body.details : undefined);
  } catch {
    return new ApiError(response.status, response.statusText || `HTTP ${response.status}`);
  }
}
