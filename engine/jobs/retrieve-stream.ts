/** Resolve a Content Beam API path to the stream it names, for worker functions. */

import type { Stream } from '../../core/model/media';
import { parseStreamName, selectStream } from '../../core/model/stream-name';
import type { Store } from '../../core/store/store';
import { JobError } from './job-types';

/**
 * `/beams/<content>/<stream>[/…]` → the stream (`video`, `audio_1`, `stream_0`, `2`, …). Throws a 404
 * JobError whose message starts "Unable to retrieve" when the content or stream does not exist, and a
 * 400 for a path that names no stream.
 */
export async function retrieveStream(store: Store, path: string): Promise<Stream> {
  const m = /^\/beams\/([^/]+)\/([^/]+)/.exec(path);
  if (!m) throw new JobError(400, `Path '${path.slice(0, 100)}' does not name a stream: expected /beams/<content>/<stream>.`);
  const content = decodeURIComponent(m[1] as string);
  const streamName = decodeURIComponent(m[2] as string);
  let selector;
  try {
    selector = parseStreamName(streamName);
  } catch (e) {
    throw new JobError(400, (e as Error).message);
  }
  const format = await store.getFormat(content);
  if (!format) throw new JobError(404, `Unable to retrieve content item '${content}': it does not exist.`);
  const stream = selectStream(format.streams, selector);
  if (!stream) throw new JobError(404, `Unable to retrieve stream '${streamName}' of '${content}': it has ${format.streams.length} stream(s).`);
  return stream;
}
