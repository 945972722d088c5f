/** The built-in elements. Importing this module registers them all: the source, then the analysis elements. */
import '../pipeline/ingest.ts';
// The analysis elements register themselves.
import '../operators/detect.ts';
import '../operators/track.ts';
import '../operators/quality.ts';
import '../operators/align.ts';
import '../operators/superres.ts';
import '../operators/attributes.ts';
