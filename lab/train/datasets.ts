/**
 * Readers for the labelled face sets, read where they lie (never copied into the
 * project): CelebA's `list_attr_celeba.txt`, UTKFace's file names, the SMILE folders.
 * A malformed CelebA line is an error that names the file and the line; a UTKFace name
 * that does not follow AGE_GENDER_RACE_DATE is skipped and reported (the public set has
 * a few), or an error with `strict`.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { FacestreamError } from '../../src/errors.ts';
import { AGE_BINS, CELEBA_ATTRIBUTES } from '../../src/models/attributes/labels.ts';

export { AGE_BINS, CELEBA_ATTRIBUTES };



export interface CelebaSample { file: string; attributes: Uint8Array /* 0/1 per CELEBA_ATTRIBUTES */ }
export interface UtkSample { file: string; age: number; /** 0 male, 1 female */ gender: 0 | 1; race: number }
export interface SmileSample { file: string; smiling: 0 | 1 }

function bad(file: string, line: number, what: string): never {
  throw new FacestreamError('FS_ERR_CONFIG', `${file}:${line}: ${what}`);
}

/** `dir` holds list_attr_celeba.txt and images/. */
export function readCeleba(dir: string): CelebaSample[] {
  const file = path.join(dir, 'list_attr_celeba.txt');
  if (!fs.existsSync(file)) throw new FacestreamError('FS_ERR_CONFIG', `${file} not found: --celeba must be a folder with list_attr_celeba.txt and images/`);
  const lines = fs.readFileSync(file, 'utf8').split(/\r?\n/);
  const count = Number(lines[0]?.trim());
  if (!Number.isInteger(count) || count < 0) bad(file, 1, `expected the number of images, got ${JSON.stringify(lines[0])}`);
  const names = (lines[1] ?? '').trim().split(/\s+/);
  if (names.length !== 40) bad(file, 2, `expected the 40 attribute names, got ${names.length}`);
  const index = CELEBA_ATTRIBUTES.map((a) => names.indexOf(a));
  const missing = CELEBA_ATTRIBUTES.filter((_, i) => index[i]! < 0);
  if (missing.length) bad(file, 2, `missing attributes ${missing.join(', ')}`);
  const out: CelebaSample[] = [];
  for (let i = 2; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (!line) continue;
    const parts = line.split(/\s+/);
    if (parts.length !== 41) bad(file, i + 1, `expected an image name and 40 values, got ${parts.length} fields`);
    const values = parts.slice(1).map(Number);
    const wrong = values.findIndex((v) => v !== 1 && v !== -1);
    if (wrong >= 0) bad(file, i + 1, `value ${JSON.stringify(parts[wrong + 1])} for ${names[wrong]} is not 1 or -1`);
    out.push({ file: path.join(dir, 'images', parts[0]!), attributes: Uint8Array.from(index, (j) => (values[j] === 1 ? 1 : 0)) });
  }
  if (out.length !== count) bad(file, 1, `says ${count} images but lists ${out.length}`);
  return out;
}

const UTK_NAME = /^(\d{1,3})_([01])_([0-4])_\d+\.jpg(\.chip\.jpg)?$/;

/** `dir` holds images/ named AGE_GENDER_RACE_DATE.jpg.chip.jpg. Exact duplicates by content are dropped. */
export function readUtkface(dir: string, opts: { strict?: boolean } = {}): { samples: UtkSample[]; skipped: string[]; duplicates: number } {
  const images = path.join(dir, 'images');
  if (!fs.existsSync(images)) throw new FacestreamError('FS_ERR_CONFIG', `${images} not found: --utkface must be a folder with images/`);
  const samples: UtkSample[] = [];
  const skipped: string[] = [];
  const seen = new Set<string>();
  let duplicates = 0;
  for (const name of fs.readdirSync(images).sort()) {
    const m = UTK_NAME.exec(name);
    if (!m || Number(m[1]) > 120) {
      if (opts.strict) throw new FacestreamError('FS_ERR_CONFIG', `${path.join(images, name)}: not AGE_GENDER_RACE_DATE.jpg.chip.jpg`);
      skipped.push(name);
      continue;
    }
    const file = path.join(images, name);
    const hash = crypto.createHash('sha1').update(fs.readFileSync(file)).digest('hex');
    if (seen.has(hash)) { duplicates++; continue; }
    seen.add(hash);
    samples.push({ file, age: Number(m[1]), gender: Number(m[2]) as 0 | 1, race: Number(m[3]) });
  }
  return { samples, skipped, duplicates };
}

export interface GenderSample { file: string; /** 0 male, 1 female */ gender: 0 | 1 }

/**
 * `dir` holds male/ and female/ (the CelebA gender crops of ../shared/tools/celeba-gender-crops.sh:
 * tight crops of CelebA ids 063429-202599 labelled by CelebA's Male attribute).
 */
export function readGenderFolders(dir: string): GenderSample[] {
  const out: GenderSample[] = [];
  for (const [sub, gender] of [['male', 0], ['female', 1]] as const) {
    const folder = path.join(dir, sub);
    if (!fs.existsSync(folder)) throw new FacestreamError('FS_ERR_CONFIG', `${folder} not found: --celeba-gender must be a folder with male/ and female/ (../shared/tools/celeba-gender-crops.sh makes it)`);
    for (const name of fs.readdirSync(folder).sort()) {
      if (/\.(jpe?g|png)$/i.test(name)) out.push({ file: path.join(folder, name), gender });
    }
  }
  return out;
}

/** `dir` holds positives/ and negatives/. */
export function readSmile(dir: string): SmileSample[] {
  const out: SmileSample[] = [];
  for (const [sub, smiling] of [['positives', 1], ['negatives', 0]] as const) {
    const folder = path.join(dir, sub);
    if (!fs.existsSync(folder)) throw new FacestreamError('FS_ERR_CONFIG', `${folder} not found: --smile must be a folder with positives/ and negatives/`);
    for (const name of fs.readdirSync(folder).sort()) {
      if (/\.(jpe?g|png)$/i.test(name)) out.push({ file: path.join(folder, name), smiling });
    }
  }
  return out;
}

export function ageClass(age: number): number {
  return AGE_BINS.findIndex((b) => age >= b.from && age <= b.to);
}

/** Deterministic split by a hash of the file name: the same file is always on the same side. */
export function isValidation(file: string, fraction = 0.2): boolean {
  return splitHash(file) < fraction;
}

/**
 * The calibration half of the validation split (hash in [0.1, 0.2)): faces no trunk
 * training saw, on which the SA heads learn which answers go wrong (src/train/sa.ts).
 * The SA figures are measured on the other half.
 */
export function isCalibration(file: string): boolean {
  const h = splitHash(file);
  return h >= 0.1 && h < 0.2;
}

function splitHash(file: string): number {
  return crypto.createHash('md5').update(path.basename(file)).digest().readUInt32BE(0) / 0x100000000;
}
