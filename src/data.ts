/** Where the labelled faces and videos live: FACESTREAM_DATA, else ../shared/data beside the project. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export function dataDir(): string {
  return path.resolve(process.env.FACESTREAM_DATA ?? path.join(PROJECT_ROOT, '..', 'shared', 'data'));
}
