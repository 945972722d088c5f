/**
 * Errors that reach a user carry a stable code and say what to do, in the manner of
 * fastify's FST_ERR_* codes.
 */
export type ErrorCode =
  | 'FS_ERR_FFMPEG_NOT_FOUND'
  | 'FS_ERR_SOURCE_URI'
  | 'FS_ERR_SOURCE_FAILED'
  | 'FS_ERR_SOURCE_STALLED'
  | 'FS_ERR_CONFIG'
  | 'FS_ERR_BACKEND'
  | 'FS_ERR_MODEL'
  | 'FS_ERR_PLUGIN_VERSION'
  | 'FS_ERR_USAGE';

export class FacestreamError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FacestreamError';
    this.code = code;
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof FacestreamError) return `${err.code}: ${err.message}`;
  if (err instanceof Error) return err.message;
  return String(err);
}
