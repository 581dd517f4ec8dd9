import type { Socket } from 'node:net';

/**
 * The last frame of a connection (a request's answer, a refusal), then the connection goes once the frame is out.
 * The uploader reads nothing more from such a connection after its first frame, so Node would never see the
 * peer's EOF: ended without the destroy, each kept its descriptor until the run ended (one END per file, every
 * STAT), and a run of many files or stats failed with EMFILE.
 */
export function answerAndClose(socket: Socket, frame: Buffer): void {
  socket.end(frame, () => socket.destroy());
}
