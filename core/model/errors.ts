/**
 * One error taxonomy for the whole engine. Every error a client can cause maps to a
 * `BEAM_ERR_*` code with an HTTP status; the API's one error handler turns any of them into
 * the JSON `{statusCode, error, message}` the original engine answered with.
 */

export const BEAM_ERRORS = {
  BEAM_ERR_BAD_REQUEST: 400,
  BEAM_ERR_BAD_MEDIA_REF: 400,
  BEAM_ERR_BAD_NAME: 400,
  BEAM_ERR_BAD_FORMAT: 400,
  BEAM_ERR_BAD_ELEMENT: 400,
  BEAM_ERR_UNAUTHORIZED: 401,
  BEAM_ERR_FORBIDDEN: 403,
  BEAM_ERR_NOT_FOUND: 404,
  BEAM_ERR_METHOD_NOT_ALLOWED: 405,
  BEAM_ERR_CONFLICT: 409,
  BEAM_ERR_LENGTH_REQUIRED: 411,
  BEAM_ERR_PAYLOAD_TOO_LARGE: 413,
  BEAM_ERR_UNSUPPORTED_MEDIA_TYPE: 415,
  BEAM_ERR_INTERNAL: 500,
  BEAM_ERR_UNAVAILABLE: 503,
} as const;

export type BeamErrorCode = keyof typeof BEAM_ERRORS;

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  411: 'Length Required',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export function reasonPhrase(status: number): string {
  return REASONS[status] ?? (status >= 500 ? 'Internal Server Error' : 'Bad Request');
}

export class BeamError extends Error {
  readonly code: BeamErrorCode;
  readonly statusCode: number;

  constructor(code: BeamErrorCode, message: string) {
    super(message);
    this.name = 'BeamError';
    this.code = code;
    this.statusCode = BEAM_ERRORS[code];
  }

  toJSON(): ErrorBody {
    return { statusCode: this.statusCode, error: reasonPhrase(this.statusCode), message: this.message };
  }
}

export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
}

export const forbidden = (message: string): BeamError => new BeamError('BEAM_ERR_FORBIDDEN', message);
export const badRequest = (message: string): BeamError => new BeamError('BEAM_ERR_BAD_REQUEST', message);
export const notFound = (message: string): BeamError => new BeamError('BEAM_ERR_NOT_FOUND', message);
export const conflict = (message: string): BeamError => new BeamError('BEAM_ERR_CONFLICT', message);
