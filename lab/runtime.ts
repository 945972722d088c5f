/**
 * The lab's runtime: the product's backend (src/runtime), plus what training needs on
 * wasm: the convolution and pooling gradients, the lean reductions and the fast
 * BatchNormalization layer (lab/kernels/wasm-kernels.ts, batchnorm.ts). The live process
 * never installs them; training, evaluation of unfolded checkpoints and the training
 * benchmarks do, through this module.
 */
import { installFastBatchNorm } from './kernels/batchnorm.ts';
import { initRuntime as initProductRuntime, tf, type BackendChoice, type RuntimeInfo } from '../src/runtime/index.ts';
import { installTrainingKernels } from './kernels/wasm-kernels.ts';

export { tf };

export async function initRuntime(opts: { backend?: BackendChoice | string; quiet?: boolean } = {}): Promise<RuntimeInfo> {
  const info = await initProductRuntime(opts);
  if (info.backend === 'wasm') {
    installTrainingKernels();
    installFastBatchNorm();
  }
  return info;
}
