/**
 * Incremental parser for a stream of binary PPM (P6) images, which is how ffmpeg hands
 * frames over (`-f image2pipe -c:v ppm`): raw RGB with a header that carries the size of
 * every frame, so a resolution change mid-stream is seen, not misparsed.
 */
export interface RawImage { width: number; height: number; data: Uint8Array }

export class PpmParser {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Bytes the current image needs (header + pixels), once its header is read. */
  private need = 0;

  /** Feeds bytes; returns the complete images they finish. */
  push(chunk: Buffer): RawImage[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const out: RawImage[] = [];
    for (;;) {
      const img = this.next();
      if (!img) break;
      out.push(img);
    }
    return out;
  }

  private next(): RawImage | undefined {
    // Chunks are joined only when a whole image is there: joining on every 64 KB chunk
    // of a 2.7 MB frame made parsing quadratic.
    if (this.buffered < Math.max(16, this.need)) return undefined;
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks, this.buffered)];
    const buf = this.chunks[0]!;
    // Header: "P6" ws width ws height ws maxval, one whitespace byte, then the pixels.
    const tokens: string[] = [];
    let i = 0;
    while (tokens.length < 4 && i < buf.length && i < 64) {
      while (i < buf.length && /\s/.test(String.fromCharCode(buf[i]!))) i++;
      let t = '';
      while (i < buf.length && !/\s/.test(String.fromCharCode(buf[i]!))) t += String.fromCharCode(buf[i++]!);
      if (i >= buf.length) return undefined;
      tokens.push(t);
    }
    if (tokens.length < 4) return undefined;
    if (tokens[0] !== 'P6' || tokens[3] !== '255') {
      throw new Error(`unexpected frame header from ffmpeg: ${JSON.stringify(tokens.join(' '))}`);
    }
    const width = Number(tokens[1]);
    const height = Number(tokens[2]);
    const start = i + 1;
    const size = width * height * 3;
    if (buf.length < start + size) {
      this.need = start + size;
      return undefined;
    }
    this.need = 0;
    const data = new Uint8Array(size);
    data.set(buf.subarray(start, start + size));
    const rest = buf.subarray(start + size);
    this.chunks = rest.length ? [rest] : [];
    this.buffered = rest.length;
    return { width, height, data };
  }
}
