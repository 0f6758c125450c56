/**
 * GET of Kubernetes API objects with a {@link Kubeconfig}: fresh credentials for each request, a
 * retry after a 401 when an exec plugin may refresh its credential (client-go does the same), and
 * kubectl's messages for the usual failures.
 */
import http from 'node:http';
import https from 'node:https';
import { parseStatus } from '../httpstream/status.js';
import { AbortError } from '../errors.js';
import type { Kubeconfig } from './kubeconfig.js';

/** Largest response body read, bytes. */
export const MAX_RESPONSE_BODY = 16 * 1024 * 1024;
/** Default request timeout (kubectl `--request-timeout=0` means none; we bound it), ms. */
export const DEFAULT_REQUEST_TIMEOUT = 30000;

export interface ApiResponse {
  status: number;
  body: unknown;
  text: string;
}

export interface RequestOptions {
  /** ms; 0: no timeout. Default 30000. */
  timeout?: number;
  signal?: AbortSignal;
}

/** An API request failed: no answer, or an error status (`status` then set). */
export class ApiError extends Error {
  readonly status: number;
  constructor(message: string, status = 0) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
  }
}

/** GETs `path` (with query) and returns the parsed JSON body. @throws ApiError with kubectl's message. */
export async function getObject<T = unknown>(kc: Kubeconfig, path: string, options: RequestOptions = {}): Promise<T> {
  let r = await rawGet(kc, path, options);
  if (r.status === 401 && kc.execRuns > 0) {
    kc.invalidateCredentials();
    r = await rawGet(kc, path, options);
  }
  if (r.status >= 200 && r.status < 300 && r.body !== undefined) return r.body as T;
  throw new ApiError(errorMessage(r), r.status);
}

function errorMessage(r: ApiResponse): string {
  if (r.status === 401) return 'You must be logged in to the server (Unauthorized)';
  const st = parseStatus(r.text);
  if (st?.message) return st.message;
  return `the server answered ${r.status}${r.text ? `: ${r.text.trim().split('\n')[0]!.slice(0, 200)}` : ''}`;
}

/** One GET; resolves with any HTTP status. Rejects with {@link ApiError} (status 0) when no answer came. */
export async function rawGet(kc: Kubeconfig, path: string, options: RequestOptions = {}): Promise<ApiResponse> {
  const creds = await kc.credentials();
  const url = new URL(kc.server);
  const [p, q] = path.split('?');
  url.pathname = url.pathname.replace(/\/+$/, '') + p;
  url.search = q ? `?${q}` : '';
  const secure = url.protocol === 'https:';
  const timeout = options.timeout ?? DEFAULT_REQUEST_TIMEOUT;
  return new Promise<ApiResponse>((resolve, reject) => {
    const reqOpts: https.RequestOptions & { createConnection?: unknown } = {
      ...(secure ? creds.tls : {}),
      method: 'GET',
      protocol: url.protocol,
      hostname: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port || (secure ? 443 : 80),
      path: url.pathname + url.search,
      headers: { ...creds.headers, Accept: 'application/json', 'User-Agent': 'kube-spdy' },
      ...(options.signal ? { signal: options.signal } : {}),
    };
    if (creds.createConnection) (reqOpts as { createConnection?: unknown }).createConnection = creds.createConnection;
    else reqOpts.agent = false;
    const req = (secure ? https : http).request(reqOpts);
    let timer: NodeJS.Timeout | undefined;
    if (timeout > 0) timer = setTimeout(() => req.destroy(new ApiError(`the server at ${url.host} did not answer within ${timeout} ms (--request-timeout)`)), timeout);
    const done = (): void => {
      if (timer) clearTimeout(timer);
    };
    req.on('error', (err: NodeJS.ErrnoException) => {
      done();
      if (err.name === 'AbortError') return reject(new AbortError('request aborted', { cause: err }));
      if (err instanceof ApiError) return reject(err);
      const why = kc.origin.defaultReason ? ` (${kc.origin.defaultReason})` : '';
      if (err.code === 'ECONNREFUSED') return reject(new ApiError(`The connection to the server ${url.host} was refused - did you specify the right host or port?${why}`));
      reject(new ApiError(`Unable to connect to the server: ${err.message}${why}`));
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_RESPONSE_BODY) req.destroy(new ApiError(`response larger than ${MAX_RESPONSE_BODY} bytes`));
        else chunks.push(c);
      });
      res.on('end', () => {
        done();
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          body = undefined;
        }
        resolve({ status: res.statusCode ?? 0, body, text });
      });
      res.on('error', (e) => {
        done();
        reject(e);
      });
    });
    req.end();
  });
}
