/** The packager's errors: malformed bitstreams and impossible requests, in the engine's taxonomy. */
import { BeamError } from '../core/model/errors';

/** A media payload or codec configuration that cannot be packaged. */
export function badMedia(message: string): BeamError {
  return new BeamError('BEAM_ERR_BAD_ELEMENT', message);
}

/** A request (playlist query, render input) that is malformed. */
export function badPackagerRequest(message: string): BeamError {
  return new BeamError('BEAM_ERR_BAD_REQUEST', message);
}

/** A renderer input that breaks an invariant (our own data, so a server-side error). */
export function badRenderInput(message: string): BeamError {
  return new BeamError('BEAM_ERR_INTERNAL', message);
}
