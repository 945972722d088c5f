import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ageClass, AGE_BINS, CELEBA_ATTRIBUTES, isCalibration, isValidation, readCeleba, readGenderFolders, readSmile, readUtkface } from './datasets.ts';
import { grade, nextTag, saSoftmax } from '../../src/calculators/sa.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'facestream-data-'));
const write = (rel: string, content: string | Buffer) => {
  const f = path.join(tmp, rel);
  fs.mkdirSync(path.dirname(f), { recursive: true });
  fs.writeFileSync(f, content);
  return f;
};
const row = (name: string, values: number[]) => `${name} ${values.map((v) => String(v).padStart(2)).join(' ')}`;

describe('CelebA gender crops reader', () => {
  it('labels male/ 0 and female/ 1 and skips what is not an image', () => {
    write('cg/male/063429.jpg', 'x');
    write('cg/female/063430.jpg', 'x');
    write('cg/female/notes.txt', 'x');
    const s = readGenderFolders(path.join(tmp, 'cg'));
    expect(s.map((x) => [path.basename(x.file), x.gender])).toEqual([['063429.jpg', 0], ['063430.jpg', 1]]);
  });

  it('names the missing folder and the script that makes it', () => {
    write('cg-half/male/1.jpg', 'x');
    expect(() => readGenderFolders(path.join(tmp, 'cg-half'))).toThrow(/cg-half\/female not found: .*celeba-gender-crops\.sh/);
  });
});

describe('CelebA reader', () => {
  const names = CELEBA_ATTRIBUTES.join(' ');
  it('reads the official format into 0/1 labels in canonical order', () => {
    const v1 = CELEBA_ATTRIBUTES.map((a) => (a === 'Male' || a === 'Smiling' ? 1 : -1));
    write('ok/list_attr_celeba.txt', ['2', names, row('000001.jpg', v1), row('000002.jpg', v1.map((v) => -v)), ''].join('\n'));
    const s = readCeleba(path.join(tmp, 'ok'));
    expect(s).toHaveLength(2);
    expect(s[0]!.file).toBe(path.join(tmp, 'ok', 'images', '000001.jpg'));
    expect(s[0]!.attributes[CELEBA_ATTRIBUTES.indexOf('Male')]).toBe(1);
    expect(s[0]!.attributes.reduce((a, b) => a + b, 0)).toBe(2);
    expect(s[1]!.attributes.reduce((a, b) => a + b, 0)).toBe(38);
  });

  it('names the file and line of a malformed row', () => {
    const good = row('000001.jpg', CELEBA_ATTRIBUTES.map(() => -1));
    write('short/list_attr_celeba.txt', ['2', names, good, '000002.jpg 1 -1 1', ''].join('\n'));
    expect(() => readCeleba(path.join(tmp, 'short'))).toThrow(/list_attr_celeba\.txt:4: expected an image name and 40 values, got 4 fields/);
    write('value/list_attr_celeba.txt', ['1', names, good.replace(/-1$/, ' 0')].join('\n'));
    expect(() => readCeleba(path.join(tmp, 'value'))).toThrow(/:3: value "0" for Young is not 1 or -1/);
    write('count/list_attr_celeba.txt', ['5', names, good].join('\n'));
    expect(() => readCeleba(path.join(tmp, 'count'))).toThrow(/:1: says 5 images but lists 1/);
    write('header/list_attr_celeba.txt', ['1', 'Male Smiling', good].join('\n'));
    expect(() => readCeleba(path.join(tmp, 'header'))).toThrow(/:2: expected the 40 attribute names/);
  });
});

describe('UTKFace and SMILE readers', () => {
  it('parses age, gender and race from names, skips malformed ones and drops duplicates by content', () => {
    write('utk/images/23_1_2_20170116174525125.jpg.chip.jpg', 'a');
    write('utk/images/61_0_0_20170117191419953.jpg.chip.jpg', 'b');
    write('utk/images/61_0_0_20170117191419999.jpg.chip.jpg', 'b'); // same bytes, other name
    write('utk/images/39_1_20170116174525125.jpg.chip.jpg', 'c'); // race missing
    const r = readUtkface(path.join(tmp, 'utk'));
    expect(r.samples.map((s) => [s.age, s.gender, s.race])).toEqual([[23, 1, 2], [61, 0, 0]]);
    expect(r.skipped).toEqual(['39_1_20170116174525125.jpg.chip.jpg']);
    expect(r.duplicates).toBe(1);
    expect(() => readUtkface(path.join(tmp, 'utk'), { strict: true })).toThrow(/39_1_20170116174525125\.jpg\.chip\.jpg: not AGE_GENDER_RACE_DATE/);
  });

  it('labels SMILE by folder and names a missing folder', () => {
    write('smile/positives/1.jpg', 'x');
    write('smile/negatives/2.jpg', 'y');
    write('smile/negatives/notes.txt', 'z');
    expect(readSmile(path.join(tmp, 'smile')).map((s) => s.smiling)).toEqual([1, 0]);
    expect(() => readSmile(path.join(tmp, 'nope'))).toThrow(/positives.* not found/);
  });

  it('age bins and the validation split are deterministic', () => {
    expect([0, 3, 4, 12, 13, 30, 31, 55, 56, 116].map(ageClass)).toEqual([0, 0, 1, 1, 2, 2, 3, 3, 4, 4]);
    expect(AGE_BINS).toHaveLength(5);
    const files = Array.from({ length: 2000 }, (_, i) => `/x/${i}.jpg`);
    const share = files.filter((f) => isValidation(f)).length / files.length;
    expect(share).toBeGreaterThan(0.17);
    expect(share).toBeLessThan(0.23);
    expect(isValidation('/a/5.jpg')).toBe(isValidation('/b/5.jpg'));
  });

  it('the calibration faces (where SA heads are fitted) are half of the validation split, never training faces', () => {
    const files = Array.from({ length: 4000 }, (_, i) => `${i}.jpg`);
    const calib = files.filter((f) => isCalibration(f));
    expect(calib.every((f) => isValidation(f))).toBe(true);
    const valid = files.filter((f) => isValidation(f)).length;
    expect(calib.length / valid).toBeGreaterThan(0.4);
    expect(calib.length / valid).toBeLessThan(0.6);
  });
});

describe('SA-softmax', () => {
  it('confidence is 1 - p(unrecognizable); probabilities over the real classes; grades by table 3-2', () => {
    const r = saSoftmax([2, 0, -10]);
    expect(r.value).toBe(0);
    expect(r.confidence).toBeGreaterThan(0.99);
    expect(r.grade).toBe('S');
    const unsure = saSoftmax([0, 0, 3]);
    expect(unsure.probs).toEqual([0.5, 0.5]);
    expect(unsure.confidence).toBeCloseTo(2 / (2 + Math.exp(3)), 9);
    expect(unsure.grade).toBe('D');
    expect([0.95, 0.7, 0.5, 0.3, 0.1].map(grade)).toEqual(['S', 'A', 'B', 'C', 'D']);
  });

  it('dynamic tags: relabel what the net cannot learn, restore what it calls unrecognizable too rarely', () => {
    // N = 2 classes, label 2 is "unrecognizable"
    expect(nextTag(2, 1, 1, 10, 7)).toBe(1); // learnt: keep
    expect(nextTag(2, 1, 1, 10, 3)).toBe(2); // not learnt: unrecognizable
    expect(nextTag(2, 1, 2, 10, 6)).toBe(2); // successfully put in N+1: keep
    expect(nextTag(2, 1, 2, 10, 2)).toBe(1); // not: restore the true label
    expect(nextTag(2, 0, 0, 0, 0)).toBe(0); // never seen: unchanged
    // a hand-made sequence over two rounds
    let tag = 0;
    for (const [seen, correct] of [[10, 2], [10, 8], [10, 1], [10, 9]] as const) tag = nextTag(2, 0, tag, seen, correct);
    expect(tag).toBe(0); // 0 -> 2 (2/10) -> 2 (8/10 said N+1) -> 0 (1/10) -> 0 (9/10)
  });
});
