/**
 * `facestream`: the server started from code, the node-media-server plugin, the config
 * schema and the pipeline loader. The event types are in `facestream/events`, the client in
 * `facestream/client`.
 *
 *   import { startApp, parseAppConfig } from 'facestream';
 *   const app = await startApp(parseAppConfig({ http: { port: 8080 }, sources: [{ name: 'door', url: 'rtsp://cam/1' }] }, 'code'));
 *   // ... app.stop()
 */
export { startApp, freePort, type App } from './app.ts';
export { appConfigSchema, sourceSchema, parseAppConfig, loadAppConfig, type AppConfig, type SourceConfig } from './config.ts';
export { loadPipeline, PIPELINES_DIR, type PipelineConfig } from './pipeline/schema.ts';
export { startStream, type RunningStream, type StreamOptions, type StreamState } from './runner/run.ts';
export { register, signUrl, type FacestreamPlugin, type PluginOptions } from '../plugins/node-media-server/index.ts';
export { createMediaServer } from '../plugins/node-media-server/server.ts';
export { FacestreamError } from './errors.ts';
export type { StreamInfo } from './server/http.ts';
export type * from './events/types.ts';
