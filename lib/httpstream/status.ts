/**
 * metav1.Status helpers: the JSON error body Kubernetes API servers and kubelets send with a failed
 * request (k8s.io/apimachinery/pkg/apis/meta/v1/types.go `Status`, `StatusReason`).
 */

/**
 * The subset of a metav1.Status this library writes and reads.
 * `code` is the HTTP status code; `reason` is a machine-readable `StatusReason` such as `Forbidden`.
 */
export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure' | 'Success';
  message: string;
  reason: string;
  code: number;
}

/**
 * metav1.StatusReason for the HTTP status codes this library produces (apimachinery
 * `pkg/apis/meta/v1/types.go`). Codes not listed map to `''` (StatusReasonUnknown) in {@link reasonForCode}.
 */
const REASONS: Readonly<Record<number, string>> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  406: 'NotAcceptable',
  409: 'Conflict',
  410: 'Gone',
  413: 'RequestEntityTooLarge',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

/**
 * The metav1.StatusReason Kubernetes uses for an HTTP status `code` (e.g. 403 → `'Forbidden'`),
 * or `''` (StatusReasonUnknown) for a code without a dedicated reason.
 */
export function reasonForCode(code: number): string {
  return REASONS[code] ?? '';
}

/**
 * Builds a failure metav1.Status: `{kind:'Status', apiVersion:'v1', metadata:{}, status:'Failure',
 * message, reason, code}`. `code` is the HTTP status code; `reason` defaults to {@link reasonForCode}
 * of `code` when empty. Serialise it with `JSON.stringify` and send it as `application/json`.
 */
export function statusJson(code: number, reason: string, message: string): Status {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason: reason === '' ? reasonForCode(code) : reason,
    code,
  };
}

/**
 * Parses `body` as a metav1.Status. Returns it only when the text is a JSON object with
 * `kind: "Status"` (client-go decodes an upgrade failure body into a metav1.Status the same way, in
 * apimachinery `pkg/util/httpstream/spdy/roundtripper.go` `NewConnection`); missing string/number
 * fields are filled with `''`/`0`. Returns `undefined` for anything else; never throws.
 */
export function parseStatus(body: string): Status | undefined {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const obj = value as Record<string, unknown>;
  if (obj.kind !== 'Status') return undefined;
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: obj.status === 'Success' ? 'Success' : 'Failure',
    message: typeof obj.message === 'string' ? obj.message : '',
    reason: typeof obj.reason === 'string' ? obj.reason : '',
    code: typeof obj.code === 'number' ? obj.code : 0,
  };
}
