/**
 * The one API client: every HTTP call of the app goes through `api()`.
 *
 * It adds the bearer token (when one is kept), parses the CONTRACT error shape
 * `{error, code, trace_id}` into an `ApiError`, and tells the auth store when the server
 * answers 401/403 so the token dialog opens.
 */
import { auth } from '@/stores/auth';

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly traceId: string | null;
  readonly retryAfter: number | null;

  constructor(status: number, message: string, code: string, traceId: string | null, retryAfter: number | null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.traceId = traceId;
    this.retryAfter = retryAfter;
  }
}

export type Query = Record<string, string | number | boolean | null | undefined>;

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'DELETE';
  query?: Query;
  /** A JSON value (sent as JSON) or a Blob/File (sent as is). */
  body?: unknown;
  signal?: AbortSignal;
  /** Leave 401/403 to the caller instead of opening the token dialog. */
  quietAuth?: boolean;
}

export function url(path: string, query?: Query): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `${path}?${text}` : path;
}

async function errorOf(response: Response): Promise<ApiError> {
  const retry = response.headers.get('Retry-After');
  const retryAfter = retry !== null && /^\d+$/.test(retry) ? Number(retry) : null;
  let message = `${response.status} ${response.statusText}`.trim();
  let code = 'http_error';
  let traceId = response.headers.get('X-Request-ID');
  try {
    const body: unknown = await response.json();
    if (body && typeof body === 'object') {
      const record = body as Record<string, unknown>;
      if (typeof record.error === 'string') message = record.error;
      if (typeof record.code === 'string') code = record.code;
      if (typeof record.trace_id === 'string') traceId = record.trace_id;
    }
  } catch {
    // Not JSON (a proxy's page): keep the status line.
  }
  return new ApiError(response.status, message, code, traceId, retryAfter);
}

/** Call the API; resolves to the parsed JSON body (or the raw Response for `raw`). */
export async function api<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const response = await send(path, options);
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

/** Like `api`, but resolves to the body as text (exports in Markdown or HTML). */
export async function apiText(path: string, options: RequestOptions = {}): Promise<string> {
  return (await send(path, options)).text();
}

async function send(path: string, options: RequestOptions): Promise<Response> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  const token = auth.token.value;
  if (token) headers.Authorization = `Bearer ${token}`;
  let body: BodyInit | undefined;
  if (options.body instanceof Blob) {
    body = options.body;
    headers['Content-Type'] = 'application/json';
  } else if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['Content-Type'] = 'application/json';
  }
  const response = await fetch(url(path, options.query), {
    method: options.method ?? 'GET',
    headers,
    body,
    signal: options.signal,
    credentials: 'same-origin',
  });
  if (!response.ok) {
    const error = await errorOf(response);
    if ((error.status === 401 || error.status === 403) && !options.quietAuth) {
      auth.demand(error.status === 401 ? 'unauthorized' : 'forbidden', error.message);
    }
    throw error;
  }
  return response;
}

/** The user-facing text of any error thrown by a call. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof TypeError) return 'The server could not be reached.';
  return error instanceof Error ? error.message : String(error);
}

/**
 * POST a file with upload progress (fetch cannot report it). Same token, same error
 * shape as `api()`; `onProgress` gets 0..1.
 */
export function upload<T>(path: string, file: Blob, onProgress: (fraction: number) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', path);
    xhr.setRequestHeader('Content-Type', 'application/json');
    xhr.setRequestHeader('Accept', 'application/json');
    const token = auth.token.value;
    if (token) xhr.setRequestHeader('Authorization', `Bearer ${token}`);
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    xhr.onerror = () => reject(new TypeError('network error'));
    xhr.onload = () => {
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(xhr.responseText) as Record<string, unknown>;
      } catch {
        // not JSON
      }
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(1);
        resolve(body as T);
        return;
      }
      const error = new ApiError(
        xhr.status,
        typeof body.error === 'string' ? body.error : `${xhr.status} ${xhr.statusText}`,
        typeof body.code === 'string' ? body.code : 'http_error',
        typeof body.trace_id === 'string' ? body.trace_id : null,
        null,
      );
      if (xhr.status === 401 || xhr.status === 403) auth.demand(xhr.status === 401 ? 'unauthorized' : 'forbidden', error.message);
      reject(error);
    };
    xhr.send(file);
  });
}
