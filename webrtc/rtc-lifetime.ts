/**
 * The lifetime of libdatachannel's track objects, and its process-wide shutdown.
 *
 * node-datachannel keeps a raw pointer to every native track wrapper in a process-wide list, and takes it out
 * only when the track's "closed" callback has run (or at `cleanup()`); a wrapper garbage-collected before that
 * leaves its pointer behind, and `cleanup()` then closes freed memory: a SIGSEGV in
 * `napi_release_threadsafe_function` at shutdown, seen once a track of an ended session had been collected.
 * While a track's wrapper is alive it also keeps delivering packets (a collected one stops them).
 *
 * So every track we make goes through `holdTrack()`: it stays referenced until libdatachannel has told us it
 * closed (the library drops it from its list right after that callback) and then for one more turn of the event
 * loop. A peer connection closes its tracks when it closes, so holding costs nothing past a session's end.
 */

import * as ndc from 'node-datachannel';

const held = new Set<ndc.Track>();

/** Keeps `track` referenced until libdatachannel has closed it and forgotten it. Returns the track. */
export function holdTrack(track: ndc.Track): ndc.Track {
  held.add(track);
  track.onClosed(() => {
    // The library takes the track off its list right after this callback returns.
    setImmediate(() => held.delete(track));
  });
  return track;
}

/** Stops libdatachannel's threads once every connection is closed (process-wide: call at shutdown only). */
export function releaseRtc(): void {
  try {
    ndc.cleanup();
  } catch {
    // Nothing was started, or it is already stopped.
  }
  // cleanup() has closed and forgotten every track: nothing of ours points into the library any more.
  held.clear();
}
