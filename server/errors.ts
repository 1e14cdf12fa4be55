import { STATUS_CODES } from 'node:http';

// One error type carrying a stable code from the contract. Logic throws AppError;
// only the error middleware turns it into RFC 9457 problem+json, with the status
// taken from the table below. `detail` is safe to show a client; `cause` (and for
// authentication failures the real reason) goes to the log only. Problems use
// `type: about:blank` (so `title` is the HTTP status text) and carry `code`.

export const statusByCode = {
  invalid_request: 400,
  invalid_json: 400,
  registration_failed: 400,
  unknown_challenge: 400,
  invalid_code: 400,
  invalid_ticket: 400,
  invalid_webhook_url: 400,
  unauthorized: 401,
  authentication_failed: 401,
  reauthentication_required: 403,
  not_found: 404,
  recovery_disabled: 404,
  method_not_allowed: 405,
  request_timeout: 408,
  account_exists: 409,
  last_credential: 409,
  already_verified: 409,
  external_id_exists: 409,
  challenge_expired: 410,
  payload_too_large: 413,
  unsupported_media_type: 415,
  headers_too_large: 431,
  rate_limited: 429,
  internal_error: 500,
  service_unavailable: 503,
} as const;

export type ErrorCode = keyof typeof statusByCode;

export class AppError extends Error {
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    readonly detail: string,
    options?: { cause?: unknown; reason?: string },
  ) {
    super(options?.reason ?? detail, { cause: options?.cause });
    this.status = statusByCode[code];
  }
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
}

export function toProblem(error: AppError): Problem {
  return {
    type: 'about:blank',
    title: STATUS_CODES[error.status] ?? 'Error',
    status: error.status,
    detail: error.detail,
    code: error.code,
  };
}
