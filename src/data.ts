/** Where the labelled faces and videos live: FACESTREAM_DATA, else ../shared/data beside the project. */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The package's root (models/, pipelines/, dashboard/, schema/): the nearest folder above
 * this file with a package.json, whether it runs from src/ (a clone) or dist/src/ (the
 * installed package).
 */
export const PROJECT_ROOT = (() => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    dir = path.dirname(dir);
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
  }
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
})();

/** The package's version (its package.json): the CLI's --version, /api/info, facestream_build_info. */
export const PACKAGE_VERSION = (JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

export function dataDir(): string {
  return path.resolve(process.env.FACESTREAM_DATA ?? path.join(PROJECT_ROOT, '..', 'shared', 'data'));
}
