/**
 * Pure: where one RTMP message goes once the chunk stream delivered it — media to the publish session on
 * its message stream, commands to the command handler, a ping to a pong, the rest nowhere (Set Chunk Size,
 * Abort and Window Ack Size are applied by the reader; Ack, Set Peer Bandwidth and shared objects need
 * nothing from a publish-only server).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
import { MSG, parseUserControl, type RtmpMessage, USER_CONTROL } from './messages';

export type MessageRoute =
  | { kind: 'media'; typeId: number; timestamp: number; payload: Buffer }
  | { kind: 'command'; body: Buffer }
  | { kind: 'pong'; value: number }
  | { kind: 'none' };

const NONE: MessageRoute = { kind: 'none' };

/** `publishStreamId`: the message stream of the accepted publish, null before one. */
export function routeMessage(msg: RtmpMessage, publishStreamId: number | null): MessageRoute {
  const ours = publishStreamId !== null && msg.streamId === publishStreamId;
  switch (msg.typeId) {
    case MSG.audio:
    case MSG.video:
    case MSG.dataAmf0:
    case MSG.aggregate:
      return ours ? { kind: 'media', typeId: msg.typeId, timestamp: msg.timestamp, payload: msg.payload } : NONE;
    case MSG.dataAmf3:
      // AMF3 data is AMF0 after its one-byte marker.
      return ours && msg.payload.length > 1 ? { kind: 'media', typeId: MSG.dataAmf0, timestamp: msg.timestamp, payload: msg.payload.subarray(1) } : NONE;
    case MSG.commandAmf0:
      return { kind: 'command', body: msg.payload };
    case MSG.commandAmf3:
      return { kind: 'command', body: msg.payload.subarray(1) };
    case MSG.userControl: {
      const ev = parseUserControl(msg.payload);
      return ev.event === USER_CONTROL.pingRequest && ev.value !== null ? { kind: 'pong', value: ev.value } : NONE;
    }
    default:
      return NONE;
  }
}
