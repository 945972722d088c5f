/**
 * The attribute model's interface as the product reads it: its input side, head names and
 * SA tasks. The network itself (docs/method.md §1) is built and trained in the lab
 * (lab/models/attributes-net.ts); the product loads the trained, folded model.
 *
 * Heads (output names):
 *   celeba    40 logits, sigmoid per CelebA attribute
 *   gender    2 logits (male, female), plain softmax      gender_sa  3 (N+1) SA-softmax
 *   age       1 output, age in years / 100 (regression)
 *   age5      5 logits (AGE_BINS), plain softmax           age5_sa    6 (N+1)
 *   smile     2 logits (no, yes), plain softmax            smile_sa   3 (N+1)
 */
import { FacestreamError } from '../../errors.ts';
import { tf } from '../../runtime/index.ts';

export const INPUT_SIZE = 64;
export const HEADS = ['celeba', 'gender', 'gender_sa', 'age', 'age5', 'age5_sa', 'smile', 'smile_sa'] as const;
export type Head = (typeof HEADS)[number];
export const SA_TASKS = { gender: 2, age5: 5, smile: 2 } as const;
export type SaTask = keyof typeof SA_TASKS;

/** The side of the square RGB crop a model takes; names the model when its input is not one. */
export function inputSide(model: tf.LayersModel, what = 'the attribute model'): number {
  const shape = model.inputs[0]?.shape ?? [];
  if (model.inputs.length !== 1 || shape.length !== 4 || shape[1] !== shape[2] || shape[3] !== 3 || !((shape[1] as number) >= 16)) {
    throw new FacestreamError('FS_ERR_MODEL', `${what}: input ${JSON.stringify(shape)} is not one square RGB crop [null, s, s, 3]`);
  }
  return shape[1] as number;
}
