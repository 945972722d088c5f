/**
 * The `facestream` command line. Logs go to stderr; `--json` output goes to stdout, one
 * JSON object per line.
 */
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { loadAppConfig } from '../config.ts';
import { FacestreamError, errorMessage } from '../errors.ts';
import type { FacestreamEvent } from '../events/types.ts';
import { log } from '../log.ts';
import { startStream } from '../runner/run.ts';
import { loadPipeline } from '../pipeline/schema.ts';
import { PACKAGE_VERSION } from '../data.ts';

/** A whole number within [min, max]: `2.5`, `1e3`, `0x10` and `-1` are refused before anything loads. */
function int(name: string, min = 0, max = Number.MAX_SAFE_INTEGER) {
  return (v: string) => {
    const n = /^\d{1,15}$/.test(v.trim()) ? Number(v) : NaN;
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be a whole number from ${min} to ${max}`);
    return n;
  };
}
/** The same range as the config's ports. */
const portArg = (name: string) => int(name, 0, 65535);

// `analyze --json | head -1`: the reader left; stop quietly, as Unix tools do
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

function fail(err: unknown): never {
  process.stderr.write(`facestream: ${errorMessage(err)}\n`);
  process.exit(err instanceof FacestreamError && err.code === 'FS_ERR_USAGE' ? 2 : 1);
}

function onSignals(fn: () => Promise<void>): void {
  let stopping = false;
  const handler = () => {
    if (stopping) process.exit(1);
    stopping = true;
    fn().then(() => process.exit(0), (err) => fail(err));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}

const program = new Command();
program.name('facestream').description('Real-time face-attribute analytics for live video')
  .version(PACKAGE_VERSION, '-V, --version', 'print the version')
  // a usage error is one line, a pointer to the help, and exit code 2 (as POSIX tools do)
  .showHelpAfterError("(run 'facestream --help' or 'facestream COMMAND --help' for usage)")
  .exitOverride((err: CommanderError) => {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') process.exit(0);
    process.exit(2);
  });

program.command('analyze')
  .description('run a pipeline on one file or URL without a server')
  .argument('<source>', 'video file, rtmp:// or rtsp:// URL')
  .option('--pipeline <name|file>', 'pipeline name (pipelines/NAME.yaml) or YAML file', 'default')
  .option('--fps <n>', 'analysis frames per second (overrides the pipeline)', int('--fps', 0, 120))
  .option('--max-width <px>', 'scale wider frames down to this width', int('--max-width', 16, 16384))
  .option('--name <name>', 'stream name in events (default: the source)')
  .option('--json', 'print one JSON event per line on stdout')
  .action(async (source: string, o: { pipeline: string; fps?: number; maxWidth?: number; name?: string; json?: boolean }) => {
    try {
      // the input first: a missing file is said before a model loads
      const { checkSource } = await import('../ingest/fromSource.ts');
      try { checkSource(source); } catch (err) { throw new FacestreamError('FS_ERR_USAGE', (err as Error).message); }
      const pipeline = loadPipeline(o.pipeline);
      const print = (e: FacestreamEvent) => {
        if (o.json) process.stdout.write(JSON.stringify(e) + '\n');
        else log.info(`${e.type} ${JSON.stringify(e)}`);
      };
      const stream = startStream({
        name: o.name ?? source, uri: source, pipeline, endOnEof: true, onEvent: print,
        ingest: { fps: o.fps, maxWidth: o.maxWidth },
      });
      onSignals(async () => { await stream.stop(); });
      const ended = await stream.done;
      if (ended.error) fail(new FacestreamError(ended.error.code as never, ended.error.message));
      if (!o.json) process.stdout.write(`${ended.frames} frames analysed, ${ended.dropped} dropped, in ${ended.durationMs} ms\n`);
      process.exit(0);
    } catch (err) {
      fail(err);
    }
  });

interface ServerFlags { config?: string; rtmpPort?: number; httpPort?: number }

/** `start` and `demo` share their flags: a config file, and ports that override it. */
function serverCommand(name: string, description: string): Command {
  return program.command(name).description(description)
    .option('--config <file>', 'facestream YAML config (ports, pipeline, sources)')
    .option('--rtmp-port <port>', 'RTMP port (default 1935)', portArg('--rtmp-port'))
    .option('--http-port <port>', 'HTTP port (default 8080)', portArg('--http-port'));
}

function serverConfig(o: ServerFlags) {
  const config = loadAppConfig(o.config);
  if (o.rtmpPort != null) config.rtmp.port = o.rtmpPort;
  if (o.httpPort != null) config.http.port = o.httpPort;
  return config;
}

serverCommand('start', 'run node-media-server, the facestream plugin, pulled cameras and the HTTP server')
  .action(async (o: ServerFlags) => {
    try {
      const config = serverConfig(o);
      const { startApp } = await import('../app.ts');
      const app = await startApp(config);
      process.stderr.write(`facestream: publish to rtmp://127.0.0.1:${app.rtmpPort}/live/NAME, dashboard at http://127.0.0.1:${app.httpPort}/\n`);
      onSignals(() => app.stop());
    } catch (err) {
      fail(err);
    }
  });

serverCommand('demo', 'start, and publish the demo clip in a loop to rtmp://127.0.0.1/live/demo')
  .action(async (o: ServerFlags) => {
    try {
      const config = serverConfig(o);
      // the demo shows its own clip's video with the boxes (on loopback); a config file decides for itself
      if (!o.config) config.dashboard.video = true;
      const { startApp } = await import('../app.ts');
      const { demoClip } = await import('../demo/clip.ts');
      const { publish } = await import('../demo/publish.ts');
      log.info('preparing the demo clip (made once from the sample photos in @vladmandic/face-api)');
      const clip = await demoClip();
      const app = await startApp(config);
      const { signPublishUrl } = await import('../../plugins/node-media-server/server.ts');
      const target = `rtmp://127.0.0.1:${app.rtmpPort}/live/demo`;
      const url = config.rtmp.publishSecret ? signPublishUrl(target, config.rtmp.publishSecret) : target;
      const publisher = publish(clip, url, { loop: true, restart: true });
      process.stderr.write(`facestream demo: streaming ${clip} to rtmp://127.0.0.1:${app.rtmpPort}/live/demo\n` +
        `open http://127.0.0.1:${app.httpPort}/ (Ctrl-C stops)\n`);
      onSignals(async () => { await publisher.stop(); await app.stop(); });
    } catch (err) {
      fail(err);
    }
  });

program.command('make-demo-clip')
  .description('write the demo clip (made from the sample photos in @vladmandic/face-api) to a file')
  .argument('<out>', 'output .mp4')
  .option('--seconds <n>', 'length', int('--seconds', 1), 20)
  .action(async (out: string, o: { seconds: number }) => {
    try {
      const { makeDemoClip } = await import('../demo/clip.ts');
      process.stdout.write(`${await makeDemoClip(out, { seconds: o.seconds })}\n`);
    } catch (err) {
      fail(err);
    }
  });

export { program, fail, int };

/** Parses the command line and runs the command (after the lab, when present, added its own). */
export function run(argv: string[] = process.argv): void {
  program.parseAsync(argv).catch(fail);
}
