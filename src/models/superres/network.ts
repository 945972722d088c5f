/**
 * TRGAN's generator as the product loads it: the high-resolution side and the pixel-shuffle
 * layer its saved models use (registered for loading). The generator and its critic
 * (docs/method.md §4) are built and trained in the lab (lab/models/superres-net.ts).
 */
import { tf } from '../../runtime/index.ts';

export const HR_SIZE = 64;

/** Depth-to-space x2 as reshape/transpose (differentiable on every backend). */
export class PixelShuffle extends tf.layers.Layer {
  static className = 'FacestreamPixelShuffle';
  override computeOutputShape(s: tf.Shape): tf.Shape {
    return [s[0]!, s[1]! * 2, s[2]! * 2, s[3]! / 4];
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0]! : inputs) as tf.Tensor4D;
      const [n, h, w, c4] = x.shape;
      const c = c4 / 4;
      const t = tf.reshape(x, [n, h, w, 2, 2, c]);
      return tf.reshape(tf.transpose(t, [0, 1, 3, 2, 4, 5]), [n, h * 2, w * 2, c]);
    });
  }
}
tf.serialization.registerClass(PixelShuffle);
