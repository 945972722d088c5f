// The parts of node-media-server 4.x that facestream uses (the package ships no types).
declare module 'node-media-server' {
  export interface NmsSession {
    id: string | number;
    ip: string;
    isPublisher: boolean;
    streamApp: string;
    streamName: string;
    streamPath: string;
    streamQuery: Record<string, string>;
    createTime: number;
    /** Set when the publisher disconnects (before the server's 30 s grace). */
    endTime: number;
    /** Bytes received from the peer so far (RTMP sessions). */
    inBytes?: number;
    /** Ends the session's connection (RTMP sessions). */
    close?: () => void;
  }
  export interface NmsConfig {
    bind?: string;
    rtmp?: { port?: number };
    http?: { port?: number };
    auth?: { play?: boolean; publish?: boolean; secret?: string };
    store?: { path?: string };
    record?: { auto?: boolean; path?: string };
    webadmin?: { enable?: boolean };
    [key: string]: unknown;
  }
  export default class NodeMediaServer {
    constructor(config: NmsConfig, configPath?: string);
    on(event: string, listener: (session: NmsSession) => void): void;
    run(): Promise<void>;
    stop(): Promise<void>;
  }
}
