/**
 * face-api's age/gender net (`@vladmandic/face-api`, MIT; trained on UTKFace and other sets)
 * beside the attribute model: it looks at the detector's box cut from the frame, as face-api's
 * own pipeline feeds it. Its gender is a check (attributes.checks); its age and gender go
 * into the track's with the shares `attributes.faceApiAgeShare` and `faceApiGenderShare`.
 * It runs on tfjs (wasm): about 12 ms a face at batch 8 and up on one core, so the element
 * asks it about a track only a few times.
 */
import type { RgbImage } from '../../calculators/warp.ts';
import { tf } from '../../runtime/index.ts';
import { faceApiModelDir, loadFaceApiNet, type FaceApiAgeGender } from '../faces/detector.ts';
import { classAnswer, type ClassAnswer } from './model.ts';

/** face-api's answer on one face: its gender as an SA answer, its age in years. */
export interface FaceApiSays { gender: ClassAnswer<'male' | 'female'>; age: number }

export interface FaceApiAgeGenderNet {
  /** Each face's gender (male, female) with face-api's probability, and its age; one batch. */
  predict(faces: RgbImage[]): Promise<FaceApiSays[]>;
  dispose(): void;
}

export async function loadFaceApiAgeGender(dir = faceApiModelDir()): Promise<FaceApiAgeGenderNet> {
  const net = await loadFaceApiNet('ageGender', dir);
  return {
    async predict(faces) {
      if (!faces.length) return [];
      const inputs = faces.map((f) => tf.tensor3d(f.data, [f.height, f.width, 3], 'int32'));
      try {
        const out = await net.predictAgeAndGender(inputs.length === 1 ? inputs[0] : inputs);
        return (Array.isArray(out) ? out : [out]).map((r: FaceApiAgeGender) => {
          const male = r.gender === 'male' ? r.genderProbability : 1 - r.genderProbability;
          // as SA logits: the log-probabilities give back face-api's two probabilities, and an
          // "unrecognizable" logit of -Infinity confidence 1 (face-api says nothing of its own
          // confidence, so every look weighs the same)
          const gender = classAnswer(['male', 'female'] as const, Float32Array.from([Math.log(Math.max(1e-6, male)), Math.log(Math.max(1e-6, 1 - male)), -Infinity]));
          return { gender, age: r.age };
        });
      } finally {
        for (const t of inputs) t.dispose();
      }
    },
    dispose: () => net.dispose(false),
  };
}
