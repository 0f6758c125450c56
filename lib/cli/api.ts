/**
 * A minimal GET of a Kubernetes API object, used before port-forwarding to check the pod (as kubectl
 * does: unknown pod → `pods "x" not found`, not Running → error).
 */
import http from 'node:http';
import https from 'node:https';
import { parseStatus } from '../httpstream/status.js';
import type { ClusterAccess } from './kubeconfig.js';

/** Largest response body read, bytes. */
const MAX_BODY = 4 * 1024 * 1024;

/** The result of {@link getJson}: HTTP status and parsed body (undefined when not JSON). */
export interface ApiResponse {
  status: number;
  body: unknown;
  text: string;
}

/** GETs `path` on the cluster. Rejects with a one-line Error when the server cannot be reached. */
export function getJson(access: ClusterAccess, path: string, timeoutMs = 30000): Promise<ApiResponse> {
  const url = new URL(access.server);
  url.pathname = url.pathname.replace(/\/+$/, '') + path;
  const mod = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(url, {
      method: 'GET',
      headers: { ...access.headers, Accept: 'application/json' },
      ...(url.protocol === 'https:' ? access.tls : {}),
      timeout: timeoutMs,
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err) => reject(new Error(`unable to connect to the server at ${url.origin}: ${err.message}`)));
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY) req.destroy(new Error(`response larger than ${MAX_BODY} bytes`));
        else chunks.push(c);
      });
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          body = undefined;
        }
        resolve({ status: res.statusCode ?? 0, body, text });
      });
      res.on('error', reject);
    });
    req.end();
  });
}

/** The message of a failed API response: the Status `message`, else the status line and body text. */
export function apiErrorMessage(r: ApiResponse): string {
  const st = parseStatus(r.text);
  if (st?.message) return st.message;
  return `the server answered ${r.status}${r.text ? `: ${r.text.trim().split('\n')[0]!.slice(0, 200)}` : ''}`;
}
