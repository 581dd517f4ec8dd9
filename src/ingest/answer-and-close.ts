import type { Socket } from 'node:net';

/**
 * The last frame of a connection (a refusal: a denied request, an OPEN or READ_OPEN refused), then the connection
 * goes once the frame is out. Nothing more is read from such a connection, so Node would never see the peer's EOF:
 * ended without the destroy, each kept its descriptor until the run ended, and a run of many refusals failed with
 * EMFILE. (Served requests read on to the peer's EOF instead: ingest-server.ts.)
 */
export function answerAndClose(socket: Socket, frame: Buffer): void {
  socket.end(frame, () => socket.destroy());
}
